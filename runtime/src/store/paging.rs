//! Turns "fetch the next page after this cursor" into an [`EventStream`],
//! shared by every backend.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures::stream::{self, StreamExt};

use super::{EventStream, ReadError, RecordedEvent};

/// How many events a backend fetches per page.
pub(crate) const PAGE_SIZE: usize = 512;

/// One page: each row read, or why it could not be read. A row that
/// cannot be read ends the stream after the rows before it are delivered.
pub(crate) type Page = Vec<Result<RecordedEvent, ReadError>>;

/// Where the next page starts, and whether there is one.
pub(crate) enum Cursor {
    /// Fetch from this value (a position or a stream version).
    At(u64),
    /// The last page was short, or the cursor ran past the end of `u64`.
    Done,
}

/// A stream that calls `fetch(cursor)` for page after page until a page
/// comes back empty. `next` gives the cursor after a fetched event.
///
/// The next page is asked for as soon as a page arrives, before its events
/// are handed out: a backend whose fetch starts work when called (SQLite
/// starts a blocking read) reads the next page while the caller works
/// through this one. At most two pages are held at a time.
pub(crate) fn paged<F, Fut>(start: u64, fetch: F, next: fn(&RecordedEvent) -> Cursor) -> EventStream
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page, ReadError>> + Send + 'static,
{
    struct State<F, Fut> {
        fetch: F,
        cursor: Cursor,
        buffer: VecDeque<Result<RecordedEvent, ReadError>>,
        /// The page at `cursor`, already asked for.
        ahead: Option<Pin<Box<Fut>>>,
    }
    let state = State {
        fetch,
        cursor: Cursor::At(start),
        buffer: VecDeque::new(),
        ahead: None,
    };
    stream::unfold(state, move |mut state| async move {
        if state.buffer.is_empty() {
            let fetched = match state.ahead.take() {
                Some(ahead) => ahead.await,
                None => {
                    let Cursor::At(at) = state.cursor else { return None };
                    (state.fetch)(at).await
                }
            };
            match fetched {
                Ok(page) if page.is_empty() => return None,
                Ok(page) => {
                    state.cursor = match page.last() {
                        Some(Ok(last)) if page.len() >= PAGE_SIZE => next(last),
                        _ => Cursor::Done,
                    };
                    if let Cursor::At(at) = state.cursor {
                        state.ahead = Some(Box::pin((state.fetch)(at)));
                    }
                    state.buffer = page.into();
                }
                Err(e) => {
                    state.cursor = Cursor::Done;
                    return Some((Err(e), state));
                }
            }
        }
        let item = state.buffer.pop_front()?;
        if item.is_err() {
            state.buffer.clear();
            state.cursor = Cursor::Done;
            state.ahead = None;
        }
        Some((item, state))
    })
    .boxed()
}

/// The events of one stream from version `from`, in `direction`, as
/// [`super::EventStore::read_stream`] defines it; `fetch(version)` reads
/// one page from that version on in that direction.
pub(crate) fn stream_pages<F, Fut>(from: u64, direction: super::Direction, fetch: F) -> EventStream
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page, ReadError>> + Send + 'static,
{
    match direction {
        super::Direction::Forward => paged(from.max(1), fetch, after_version),
        super::Direction::Backward => paged(from, fetch, before_version),
    }
}

/// The cursor after `event` when reading by position.
pub(crate) fn after_position(event: &RecordedEvent) -> Cursor {
    event.position.checked_add(1).map_or(Cursor::Done, Cursor::At)
}

/// The cursor after `event` when reading a stream forward.
fn after_version(event: &RecordedEvent) -> Cursor {
    event.version.checked_add(1).map_or(Cursor::Done, Cursor::At)
}

/// The cursor after `event` when reading a stream backward.
fn before_version(event: &RecordedEvent) -> Cursor {
    match event.version.checked_sub(1) {
        Some(v) if v > 0 => Cursor::At(v),
        _ => Cursor::Done,
    }
}

/// A live subscription: pages from `start`, and when caught up, waits on
/// `head` (the store's last position) to move past the cursor.
pub(crate) fn subscription<F, Fut>(start: u64, fetch: F, head: tokio::sync::watch::Receiver<u64>) -> EventStream
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page, ReadError>> + Send + 'static,
{
    struct State<F> {
        fetch: F,
        next: u64,
        buffer: VecDeque<Result<RecordedEvent, ReadError>>,
        head: tokio::sync::watch::Receiver<u64>,
        failed: bool,
    }
    let state = State {
        fetch,
        next: start.max(1),
        buffer: VecDeque::new(),
        head,
        failed: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.failed {
            return None;
        }
        while state.buffer.is_empty() {
            // Mark the current head as seen before fetching, so an append
            // that lands after the fetch wakes the wait below.
            let head = *state.head.borrow_and_update();
            if head >= state.next {
                match (state.fetch)(state.next).await {
                    Ok(page) => {
                        if let Some(Ok(last)) = page.last() {
                            state.next = last.position + 1;
                        }
                        state.buffer = page.into();
                        if !state.buffer.is_empty() {
                            break;
                        }
                    }
                    Err(e) => {
                        state.failed = true;
                        return Some((Err(e), state));
                    }
                }
            }
            if state.buffer.is_empty() && state.head.changed().await.is_err() {
                // The store was dropped: nothing more will arrive.
                return None;
            }
        }
        let item = state.buffer.pop_front()?;
        if item.is_err() {
            state.failed = true;
        }
        Some((item, state))
    })
    .boxed()
}
