//! Issue 12, scope 7: the app's IP handling (`attrib_core::privacy::ip`) applied to every event
//! as it leaves the request for its journey ([`crate::deliver`]): after the rate limits, the
//! fraud rules and the click counters have seen the full address, before anything is stored
//! or forwarded.
//!
//! `hash` keys its hashes with the `IP_HASH_SECRET` secret (per deployment;
//! `wrangler secret put IP_HASH_SECRET`); without it a hashed app keeps no address at all.

use attrib_core::event::Event;
use attrib_core::privacy::ip::{apply_to_event, IpHandling};
use attrib_core::settings::AppSettings;
use attrib_worker_common::config;
use worker::Env;

pub const IP_HASH_SECRET: &str = "IP_HASH_SECRET";

/// Rewrites (or removes) `context.ip` of each event as the app's setting says.
pub fn handle_ips<'a>(
    env: &Env,
    settings: &AppSettings,
    events: impl Iterator<Item = &'a mut Event>,
) {
    let secret = match settings.ip_handling {
        IpHandling::Hash => {
            let secret = config::secret(env, IP_HASH_SECRET).map(String::into_bytes);
            if secret.is_none() {
                worker::console_error!(
                    "app {}: ip_handling is hash but {IP_HASH_SECRET} is not set: IPs are dropped",
                    settings.app_id
                );
            }
            secret
        }
        IpHandling::Truncate | IpHandling::Drop => None,
    };
    for event in events {
        apply_to_event(
            event,
            settings.ip_handling,
            secret.as_deref(),
            &settings.app_id,
        );
    }
}
