//! Classify: every message gets a language, a sentiment, an intent and the brand's topics, with
//! calibrated scores and an "uncertain" when the model is not sure; personal data is found and
//! can be redacted. Pure: no IO, no async — models are bytes in, bytes out.

pub mod defaults;
pub mod features;
pub mod lang;
pub mod model;
pub mod pii;
pub mod wordsums;

pub use features::FeatureConfig;
pub use model::{Model, ModelError, Prediction};
