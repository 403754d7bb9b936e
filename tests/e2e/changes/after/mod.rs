//! The crate of `../before` after one edit per projection (and edits that
//! must rebuild nothing): a helper's body (`pricing::weight`), a helper two
//! calls deep (`pricing::scale`), a method of a view type
//! (`views::Counter::bump`), a constant (`pricing::BONUS`), the upcast of a
//! consumed contract (`ledger.rs`), the projection's fields
//! (`projections/fields.rs`); comments only (`projections/comment.rs`),
//! formatting only (`projections/format.rs`) and unrelated functions in
//! the same files (`pricing::unrelated`,
//! `projections/untouched.rs`).

pub mod clicks;
pub mod ledger;
pub mod pricing;
pub mod projections;
pub mod views;

use treaty::projection::{Projection, ProjectionEngine, SqliteViewStore, ViewError, ViewReader};
use treaty::store::SqliteStore;

use projections::*;

pub fn engine(events: SqliteStore, views: SqliteViewStore) -> ProjectionEngine<SqliteStore, SqliteViewStore> {
    let mut engine = ProjectionEngine::new(events, views);
    engine
        .add(HelperBody)
        .add(Deep)
        .add(ViewMethod)
        .add(Constant)
        .add(Upcast)
        .add(Fields { step: 1 })
        .add(Commented)
        .add(Formatted)
        .add(Untouched);
    engine
}

/// Every projection's count under the key `all`.
pub async fn counts(reader: &ViewReader<SqliteViewStore>) -> Result<Vec<(&'static str, u64)>, ViewError> {
    async fn count<P: Projection<View = views::Count>>(
        reader: &ViewReader<SqliteViewStore>,
    ) -> Result<(&'static str, u64), ViewError> {
        Ok((P::NAME, reader.get::<P>("all").await?.map_or(0, |c| c.events)))
    }
    Ok(vec![
        count::<HelperBody>(reader).await?,
        count::<Deep>(reader).await?,
        (
            ViewMethod::NAME,
            reader.get::<ViewMethod>("all").await?.map_or(0, |c| c.total),
        ),
        count::<Constant>(reader).await?,
        count::<Upcast>(reader).await?,
        count::<Fields>(reader).await?,
        count::<Commented>(reader).await?,
        count::<Formatted>(reader).await?,
        count::<Untouched>(reader).await?,
    ])
}
