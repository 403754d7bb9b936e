//! Turns "fetch the next page after this cursor" into an [`EventStream`],
//! shared by every backend.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures::stream::{self, Stream, StreamExt};

use super::{EventStream, ReadError, RecordedEvent};

/// How many events a backend fetches per page.
pub(crate) const PAGE_SIZE: usize = 512;

/// One page of rows as a backend fetched it. A row that cannot be read
/// ([`ReadError::Corrupt`]) is delivered as an error in its place and the
/// rows after it follow; any other error ends the stream.
pub(crate) trait Page: Send + 'static {
    /// The page's rows in order: each event, or why its row could not be
    /// read.
    type Events: Iterator<Item = Result<RecordedEvent, ReadError>> + Send;

    /// How many rows the page holds, read or not.
    fn len(&self) -> usize;

    /// Where the last row sits, read or not; `None` when the page is
    /// empty or ended with a failure of the backend.
    fn last(&self) -> Option<RowKey>;

    /// The events, built as they are taken.
    fn into_events(self) -> Self::Events;
}

/// Where a row sits: what the cursor after it is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowKey {
    pub position: u64,
    /// `None` for a damaged row without a readable version: a stream read
    /// ends after it.
    pub version: Option<u64>,
}

/// Whether an error of a read stands for one row, after which the read
/// goes on, rather than ending the read.
pub(crate) fn ends_read(error: &ReadError) -> bool {
    !matches!(error, ReadError::Corrupt { .. })
}

/// The page of the backends that build each event as they fetch it.
pub(crate) type EventPage = Vec<Result<RecordedEvent, ReadError>>;

impl Page for EventPage {
    type Events = std::vec::IntoIter<Result<RecordedEvent, ReadError>>;

    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn last(&self) -> Option<RowKey> {
        match <[_]>::last(self) {
            Some(Ok(event)) => Some(RowKey {
                position: event.position,
                version: Some(event.version),
            }),
            Some(Err(ReadError::Corrupt { position, .. })) => Some(RowKey {
                position: *position,
                version: None,
            }),
            _ => None,
        }
    }

    fn into_events(self) -> Self::Events {
        self.into_iter()
    }
}

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
pub(crate) fn paged<F, Fut, P>(start: u64, fetch: F, next: fn(RowKey) -> Cursor) -> EventStream
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<P, ReadError>> + Send + 'static,
    P: Page,
{
    Paged {
        fetch,
        next,
        cursor: Cursor::At(start),
        events: None,
        ahead: None,
    }
    .boxed()
}

/// The stream [`paged`] returns. It is written out rather than built with
/// `stream::unfold`, which moves its state and each event through a new
/// future per event: reading a large store spent a noticeable share of its
/// time copying events.
struct Paged<F, Fut, P: Page> {
    fetch: F,
    next: fn(RowKey) -> Cursor,
    /// Where the page after the current one starts.
    cursor: Cursor,
    /// The current page's events not yet handed out.
    events: Option<P::Events>,
    /// The page at `cursor`, already asked for.
    ahead: Option<Pin<Box<Fut>>>,
}

// Nothing in `Paged` is pinned in place: the page future is pinned in its
// own box, and `fetch` is only called.
impl<F, Fut, P: Page> Unpin for Paged<F, Fut, P> {}

impl<F, Fut, P> Stream for Paged<F, Fut, P>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<P, ReadError>>,
    P: Page,
{
    type Item = Result<RecordedEvent, ReadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.events.as_mut().and_then(Iterator::next) {
                if item.as_ref().is_err_and(ends_read) {
                    // A failure of the backend ends the stream; a damaged
                    // row does not.
                    this.events = None;
                    this.cursor = Cursor::Done;
                    this.ahead = None;
                }
                return Poll::Ready(Some(item));
            }
            let ahead = match &mut this.ahead {
                Some(ahead) => ahead,
                None => match this.cursor {
                    Cursor::At(at) => this.ahead.insert(Box::pin((this.fetch)(at))),
                    Cursor::Done => return Poll::Ready(None),
                },
            };
            let fetched = ready!(ahead.as_mut().poll(cx));
            this.ahead = None;
            match fetched {
                Ok(page) => {
                    this.cursor = match page.last() {
                        Some(last) if page.len() >= PAGE_SIZE => (this.next)(last),
                        _ => Cursor::Done,
                    };
                    if let Cursor::At(at) = this.cursor {
                        this.ahead = Some(Box::pin((this.fetch)(at)));
                    }
                    // An empty page has a `Done` cursor, so the next turn
                    // of the loop ends the stream.
                    this.events = Some(page.into_events());
                }
                Err(e) => {
                    this.cursor = Cursor::Done;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

/// The events of one stream from version `from`, in `direction`, as
/// [`super::EventStore::read_stream`] defines it; `fetch(version)` reads
/// one page from that version on in that direction.
pub(crate) fn stream_pages<F, Fut, P>(from: u64, direction: super::Direction, fetch: F) -> EventStream
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<P, ReadError>> + Send + 'static,
    P: Page,
{
    match direction {
        super::Direction::Forward => paged(from.max(1), fetch, after_version),
        super::Direction::Backward => paged(from, fetch, before_version),
    }
}

/// The cursor after `event` when reading by position.
pub(crate) fn after_position(row: RowKey) -> Cursor {
    row.position.checked_add(1).map_or(Cursor::Done, Cursor::At)
}

/// The cursor after `event` when reading a stream forward.
fn after_version(row: RowKey) -> Cursor {
    row.version
        .and_then(|version| version.checked_add(1))
        .map_or(Cursor::Done, Cursor::At)
}

/// The cursor after `event` when reading a stream backward.
fn before_version(row: RowKey) -> Cursor {
    match row.version.and_then(|version| version.checked_sub(1)) {
        Some(v) if v > 0 => Cursor::At(v),
        _ => Cursor::Done,
    }
}

/// A live subscription: pages from `start`, and when caught up, waits on
/// `head` (the store's last position) to move past the cursor.
///
/// With `poll`, a caught-up subscription also looks for new events every
/// `poll`, for backends whose head only follows appends made through the
/// same handle while other processes may append too.
pub(crate) fn subscription<F, Fut, P>(
    start: u64,
    fetch: F,
    head: tokio::sync::watch::Receiver<u64>,
    poll: Option<std::time::Duration>,
) -> EventStream
where
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<P, ReadError>> + Send + 'static,
    P: Page,
{
    struct State<F, P: Page> {
        fetch: F,
        next: u64,
        events: Option<P::Events>,
        head: tokio::sync::watch::Receiver<u64>,
        failed: bool,
        /// Whether the wait below ended with a poll, not a new head.
        polled: bool,
    }
    let state: State<F, P> = State {
        fetch,
        next: start.max(1),
        events: None,
        head,
        failed: false,
        polled: false,
    };
    stream::unfold(state, move |mut state| async move {
        if state.failed {
            return None;
        }
        loop {
            if let Some(item) = state.events.as_mut().and_then(Iterator::next) {
                if item.as_ref().is_err_and(ends_read) {
                    state.failed = true;
                }
                return Some((item, state));
            }
            state.events = None;
            // Mark the current head as seen before fetching, so an append
            // that lands after the fetch wakes the wait below.
            let head = *state.head.borrow_and_update();
            let polled = std::mem::take(&mut state.polled);
            if head >= state.next || polled {
                match (state.fetch)(state.next).await {
                    Ok(page) => {
                        if let Some(last) = page.last() {
                            state.next = last.position + 1;
                        }
                        // A full page may have more behind it, which the
                        // head does not show when other processes
                        // appended it: fetch again without waiting.
                        state.polled = page.len() >= PAGE_SIZE;
                        if page.len() > 0 {
                            state.events = Some(page.into_events());
                            continue;
                        }
                    }
                    Err(e) => {
                        state.failed = true;
                        return Some((Err(e), state));
                    }
                }
            }
            let changed = match poll {
                Some(every) => match tokio::time::timeout(every, state.head.changed()).await {
                    Ok(changed) => changed,
                    Err(_) => {
                        state.polled = true;
                        Ok(())
                    }
                },
                None => state.head.changed().await,
            };
            if changed.is_err() {
                // The store was dropped: nothing more will arrive.
                return None;
            }
        }
    })
    .boxed()
}
