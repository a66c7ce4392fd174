//! Mobile app attribution, IO-free: store routing on tracking links, the Play install
//! referrer, device identifiers and the matching waterfall, deferred deep links, the app
//! association files, and the validation of the mobile link fields and per-app settings.

pub mod association;
pub mod device;
pub mod referrer;
pub mod routing;
pub mod settings;
pub mod skan_sources;
pub mod waterfall;

#[cfg(test)]
mod tests;
