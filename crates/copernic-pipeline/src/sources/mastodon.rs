//! Placeholder: being written.

use std::io::BufRead;

use super::{Context, Item, SourceError};

pub fn read(
    _input: &mut dyn BufRead,
    ctx: &Context,
    _emit: &mut dyn FnMut(Item),
) -> Result<(), SourceError> {
    Err(SourceError::Format {
        input: ctx.input.clone(),
        reason: "mastodon is not implemented yet".into(),
    })
}
