//! One projection per file, each affected by one edit (or none).

mod comment;
mod constant;
mod deep;
mod fields;
// Formatted by hand in `after`, and kept so: that is the edit.
#[rustfmt::skip]
mod format;
mod helper;
mod method;
mod untouched;
mod upcast;

pub use comment::Commented;
pub use constant::Constant;
pub use deep::Deep;
pub use fields::Fields;
pub use format::Formatted;
pub use helper::HelperBody;
pub use method::ViewMethod;
pub use untouched::Untouched;
pub use upcast::Upcast;
