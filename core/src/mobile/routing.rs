//! Store routing: which destination a tracking-link click goes to, from the user agent.

use url::Url;

use crate::mobile::referrer::play_referrer_value;
use crate::mobile::settings::LinkMobile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Ios,
    Android,
    /// Desktops and everything not recognised: the web fallback.
    Other,
}

impl Platform {
    /// iPhone, iPad and iPod user agents are iOS (iPadOS 13+ Safari claims to be a Mac and goes
    /// to the web, which is where a desktop-class browser belongs); `Android` anywhere is
    /// Android. Anything else, including an absent agent, is `Other`.
    pub fn of_user_agent(user_agent: Option<&str>) -> Platform {
        let Some(ua) = user_agent else {
            return Platform::Other;
        };
        if ["iPhone", "iPad", "iPod"].iter().any(|d| ua.contains(d)) {
            Platform::Ios
        } else if ua.contains("Android") {
            Platform::Android
        } else {
            Platform::Other
        }
    }
}

/// Where the click goes. The web fallback (the link's `destination_url`) gets `click_id`
/// appended as before; the App Store URL is used unchanged (Apple drops query strings); the
/// Google Play URL gets `referrer=click_id%3D{id}` so the Install Referrer API hands the click
/// id back on first open. A platform without its own URL falls back to the web.
pub fn destination(
    platform: Platform,
    web: &Url,
    mobile: &LinkMobile,
    click_id_param: &str,
    click_id: &str,
    link_id: &str,
) -> Url {
    let store = match platform {
        Platform::Ios => mobile.ios_url.as_deref(),
        Platform::Android => mobile.android_url.as_deref(),
        Platform::Other => None,
    }
    .and_then(|u| Url::parse(u).ok());
    match (platform, store) {
        (Platform::Ios, Some(url)) => url,
        (Platform::Android, Some(mut url)) => {
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "referrer")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("referrer", &play_referrer_value(click_id, link_id));
            url
        }
        _ => {
            let mut url = web.clone();
            url.query_pairs_mut().append_pair(click_id_param, click_id);
            url
        }
    }
}
