//! The default lists the ingest rules match against: hosting networks, bot user agents, and
//! the Segment libraries that send from servers.

/// Autonomous systems of well-known hosting, cloud and VPN-egress providers, sorted. Traffic
/// from them is machines, not people. Cloudflare (13335), Akamai (20940) and Fastly (54113)
/// are deliberately absent: iCloud Private Relay and WARP send real users' traffic from them.
pub const DEFAULT_DATACENTER_ASNS: [u32; 41] = [
    7224,   // Amazon Web Services
    8075,   // Microsoft Azure
    8100,   // QuadraNet
    8987,   // Amazon Web Services (EU)
    9009,   // M247 (VPN egress)
    12876,  // Scaleway
    14061,  // DigitalOcean
    14618,  // Amazon Web Services
    15169,  // Google
    16276,  // OVH
    16509,  // Amazon Web Services
    19994,  // Rackspace
    20473,  // Vultr (Choopa)
    24940,  // Hetzner
    26496,  // GoDaddy hosting
    28753,  // Leaseweb DE
    30633,  // Leaseweb US
    31898,  // Oracle Cloud
    36351,  // IBM Cloud (SoftLayer)
    36352,  // ColoCrossing
    37963,  // Alibaba Cloud
    40676,  // Psychz Networks
    45090,  // Tencent Cloud
    45102,  // Alibaba Cloud (international)
    46606,  // Unified Layer
    47583,  // Hostinger
    51167,  // Contabo
    53667,  // FranTech (BuyVM)
    60068,  // CDN77 / Datacamp (VPN egress)
    60781,  // Leaseweb NL
    62240,  // Clouvider
    63949,  // Akamai Connected Cloud (Linode)
    132203, // Tencent Cloud (international)
    135377, // UCloud
    136907, // Huawei Cloud
    202425, // IP Volume
    206264, // Amarutu
    212238, // Datacamp (VPN egress)
    213230, // Hetzner Cloud
    396982, // Google Cloud
    398101, // GoDaddy (US)
];

/// User-agent fragments (lower case) of crawlers, link previewers, headless browsers,
/// monitoring services and HTTP libraries. Besides these, any word ending in `bot` or `bots`
/// marks a bot (`Googlebot`, `AdsBot-Google`, `Slackbot`), except [`NOT_BOT_WORDS`].
pub const DEFAULT_BOT_PATTERNS: [&str; 38] = [
    "crawler",
    "spider",
    "slurp",
    "mediapartners-google",
    "headlesschrome",
    "phantomjs",
    "puppeteer",
    "playwright",
    "selenium",
    "webdriver",
    "lighthouse",
    "pingdom",
    "uptimerobot",
    "statuscake",
    "facebookexternalhit",
    "facebookcatalog",
    "whatsapp/",
    "embedly",
    "skypeuripreview",
    "bingpreview",
    "google-inspectiontool",
    "googleother",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "java/",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "scrapy",
    "httrack",
    "ia_archiver",
    "headless",
];

/// Words ending in `bot` that name real devices (the Cubot phone brand).
pub const NOT_BOT_WORDS: [&str; 1] = ["cubot"];

/// `context.library.name` of Segment's server-side libraries: their requests come from the
/// customer's servers, so the connecting network says nothing about the user.
pub const SERVER_LIBRARIES: [&str; 11] = [
    "analytics-node",
    "@segment/analytics-node",
    "analytics-python",
    "analytics-ruby",
    "analytics-go",
    "analytics-java",
    "analytics-php",
    "analytics.net",
    "analytics-csharp",
    "analytics-clj",
    "analytics-rust",
];

/// The word or pattern that marks a (lower-case) user agent as a bot, by the default list and
/// `extra`; `None` for a user agent that looks like a person's.
pub fn is_bot_agent(lower_agent: &str, extra: &[String]) -> Option<String> {
    if let Some(word) = lower_agent
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| (w.ends_with("bot") || w.ends_with("bots")) && !NOT_BOT_WORDS.contains(w))
    {
        return Some(word.to_owned());
    }
    if let Some(pattern) = DEFAULT_BOT_PATTERNS
        .iter()
        .find(|p| lower_agent.contains(**p))
    {
        return Some((*pattern).to_owned());
    }
    extra
        .iter()
        .find(|p| !p.is_empty() && lower_agent.contains(&p.to_lowercase()))
        .cloned()
}
