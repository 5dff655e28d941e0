//! The class board, from xtask: the instructor runs it (`room serve`, `open`, `close`, `export`),
//! learners join it (`room join`) and their `check`, `status --push` and `doctor --push` post to it.
//! The board itself is its own crate, `kit/room`.

pub mod board;
pub mod client;
pub mod post;

pub use post::{post_in_background, push_doctor};
