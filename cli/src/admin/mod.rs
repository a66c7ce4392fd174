//! `attrib apps|keys|links|postbacks|settings|spend|regulations|audit|whoami`: the management API
//! (`/admin/v1/` on the query Worker) from a terminal. The endpoint and token come from
//! `--endpoint`/`--token` or `ATTRIB_ENDPOINT`/`ATTRIB_TOKEN` (an admin token `at_...` or an
//! app's manage key `mk_...`). Answers are printed as JSON; a refusal prints the API's error
//! (field and reason) and exits with status 1.

mod client;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use client::Client;

/// Where the API is and who is asking.
#[derive(Debug, Clone, Args)]
pub struct Conn {
    /// The query Worker's URL (default: $ATTRIB_ENDPOINT).
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// Admin token or manage key (default: $ATTRIB_TOKEN).
    #[arg(long, global = true)]
    token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Who the token is (admin, or an app's manage key).
    Whoami(Whoami),
    /// Apps: list, show, create, rename, archive, restore.
    Apps(Apps),
    /// An app's keys: list, issue (secret shown once), rotate, revoke.
    Keys(Keys),
    /// An app's tracking links.
    Links(Links),
    /// An app's postbacks: list, create, update, delete, test, attempts.
    Postbacks(Postbacks),
    /// An app's settings: show, or set with a JSON merge-patch / key=value pairs.
    Settings(Settings),
    /// An app's ad spend: import a JSON or CSV file, list what is stored.
    Spend(Spend),
    /// An app's data-subject regulations: create (erase, suppress, unsuppress), show, list.
    Regulations(Regulations),
    /// An app's audit log, newest first.
    Audit(Audit),
}

#[derive(Debug, Args)]
pub struct Regulations {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: RegulationsAction,
}

#[derive(Debug, Subcommand)]
enum RegulationsAction {
    /// Create one, carried out at once; prints its status per store.
    Create {
        app: String,
        /// DELETE_ONLY, SUPPRESS_ONLY, SUPPRESS_WITH_DELETE or UNSUPPRESS.
        #[arg(long = "type")]
        regulation_type: String,
        /// USER_ID, ANONYMOUS_ID or DEVICE_ID.
        #[arg(long)]
        subject_type: String,
        /// The subjects' ids (at most 100).
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// One regulation and its status per store.
    Show { app: String, id: String },
    /// The app's regulations, newest first (`--before`: the previous page's next_before).
    List {
        app: String,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        before: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct Spend {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: SpendAction,
}

#[derive(Debug, Subcommand)]
enum SpendAction {
    /// Upload daily spend rows: a CSV with a header row (day, source, campaign, ad_group,
    /// spend, currency, impressions, clicks), or a JSON array of rows. A re-upload of a
    /// (day, source, campaign, ad_group) replaces it; a bad row refuses the whole file.
    Import {
        app: String,
        file: std::path::PathBuf,
        /// csv or json (default: from the file's extension, else its first character).
        #[arg(long)]
        format: Option<String>,
    },
    /// The stored rows of a day range.
    List {
        app: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
    },
}

/// The content type of a spend file: `--format`, else the extension, else JSON when the
/// file starts with `[` and CSV otherwise.
fn spend_content_type(
    path: &std::path::Path,
    format: Option<&str>,
    bytes: &[u8],
) -> Result<&'static str> {
    let named = format.map(str::to_ascii_lowercase).or_else(|| {
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
    });
    match named.as_deref() {
        Some("csv") => Ok("text/csv"),
        Some("json") => Ok("application/json"),
        Some(other) if format.is_some() => bail!("--format {other:?}: use csv or json"),
        _ => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            Ok(if first == Some(&b'[') {
                "application/json"
            } else {
                "text/csv"
            })
        }
    }
}

#[derive(Debug, Args)]
pub struct Whoami {
    #[command(flatten)]
    conn: Conn,
}

#[derive(Debug, Args)]
pub struct Apps {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: AppsAction,
}

#[derive(Debug, Subcommand)]
enum AppsAction {
    List {
        /// Include archived apps.
        #[arg(long)]
        archived: bool,
    },
    Show {
        app: String,
    },
    Create {
        #[arg(long)]
        name: String,
        /// The app id (generated when absent).
        #[arg(long)]
        id: Option<String>,
    },
    Rename {
        app: String,
        #[arg(long)]
        name: String,
    },
    Archive {
        app: String,
    },
    Restore {
        app: String,
    },
}

#[derive(Debug, Args)]
pub struct Keys {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: KeysAction,
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    List {
        app: String,
    },
    /// Issue a key; its secret is printed once (`--secret-only` prints just the secret).
    Issue {
        app: String,
        /// write, read or manage.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        label: Option<String>,
        /// A write key's class: client (the default; browser and app keys, alias merges only
        /// anonymous ids never seen with another user) or server (backend keys, Segment's alias).
        #[arg(long)]
        class: Option<String>,
        #[arg(long)]
        secret_only: bool,
    },
    /// A new key of the same kind; the old one keeps working for --overlap-secs.
    Rotate {
        app: String,
        key: String,
        #[arg(long)]
        overlap_secs: Option<u32>,
    },
    Revoke {
        app: String,
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct Links {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: LinksAction,
}

#[derive(Debug, Subcommand)]
enum LinksAction {
    List {
        app: String,
    },
    Show {
        app: String,
        link: String,
    },
    Create {
        app: String,
        #[arg(long)]
        destination: String,
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        medium: Option<String>,
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long)]
        content: Option<String>,
        #[arg(long)]
        term: Option<String>,
    },
    Delete {
        app: String,
        link: String,
    },
}

#[derive(Debug, Args)]
pub struct Postbacks {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: PostbacksAction,
}

#[derive(Debug, Subcommand)]
enum PostbacksAction {
    List {
        app: String,
    },
    Create {
        app: String,
        /// A touch source (lower case), or * for every other network.
        #[arg(long)]
        network: String,
        /// URL template; macros like {click_id} only in the path and query.
        #[arg(long)]
        url: String,
        #[arg(long, default_value = "GET")]
        method: String,
        /// Conversion names to send for (repeatable; none = all).
        #[arg(long = "event")]
        events: Vec<String>,
    },
    /// Enable or disable a postback.
    Enable {
        app: String,
        network: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        enabled: bool,
    },
    Delete {
        app: String,
        network: String,
    },
    /// Send one sample postback now and show the exact request and the answer.
    Test {
        app: String,
        network: String,
    },
    /// The attempt log.
    Attempts {
        app: String,
    },
}

#[derive(Debug, Args)]
pub struct Settings {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    action: SettingsAction,
}

#[derive(Debug, Subcommand)]
enum SettingsAction {
    Show {
        app: String,
    },
    /// Change settings: `--patch '{"click_window_secs": 3600}'` and/or `name=value` pairs
    /// (a value that parses as JSON is taken as JSON, else as a string).
    Set {
        app: String,
        #[arg(long)]
        patch: Option<String>,
        /// Only if the app is still at this version (else 409).
        #[arg(long)]
        version: Option<i64>,
        pairs: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct Audit {
    #[command(flatten)]
    conn: Conn,
    app: String,
    #[arg(long)]
    limit: Option<usize>,
}

fn client(conn: &Conn) -> Result<Client> {
    let endpoint = conn
        .endpoint
        .clone()
        .or_else(|| std::env::var("ATTRIB_ENDPOINT").ok())
        .filter(|e| !e.is_empty())
        .context("no endpoint: pass --endpoint or set ATTRIB_ENDPOINT")?;
    let token = conn
        .token
        .clone()
        .or_else(|| std::env::var("ATTRIB_TOKEN").ok())
        .filter(|t| !t.is_empty())
        .context("no token: pass --token or set ATTRIB_TOKEN")?;
    Client::new(&endpoint, &token)
}

/// Percent-encodes one path segment.
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `?a=1&b=2` of the given values (none: empty), each percent-encoded.
fn url_query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", seg(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn print(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `name=value` pairs as a JSON object (values parsed as JSON when they are JSON).
fn pairs_patch(pairs: &[String]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("{pair:?} is not name=value");
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        map.insert(name.to_owned(), value);
    }
    Ok(map)
}

fn optional(map: &mut Map<String, Value>, name: &str, value: &Option<String>) {
    if let Some(v) = value {
        map.insert(name.to_owned(), Value::String(v.clone()));
    }
}

pub fn run(command: AdminCommand) -> Result<()> {
    match command {
        AdminCommand::Whoami(w) => print(&client(&w.conn)?.get("/whoami")?),
        AdminCommand::Apps(a) => {
            let c = client(&a.conn)?;
            let out = match a.action {
                AppsAction::List { archived } => c.get(if archived {
                    "/apps?archived=include"
                } else {
                    "/apps"
                })?,
                AppsAction::Show { app } => c.get(&format!("/apps/{}", seg(&app)))?,
                AppsAction::Create { name, id } => {
                    let mut body = json!({ "name": name });
                    if let Some(id) = id {
                        body["id"] = Value::String(id);
                    }
                    c.send("POST", "/apps", Some(body))?
                }
                AppsAction::Rename { app, name } => c.send(
                    "PATCH",
                    &format!("/apps/{}", seg(&app)),
                    Some(json!({ "name": name })),
                )?,
                AppsAction::Archive { app } => {
                    c.send("POST", &format!("/apps/{}/archive", seg(&app)), None)?
                }
                AppsAction::Restore { app } => {
                    c.send("POST", &format!("/apps/{}/restore", seg(&app)), None)?
                }
            };
            print(&out)
        }
        AdminCommand::Keys(k) => {
            let c = client(&k.conn)?;
            match k.action {
                KeysAction::List { app } => print(&c.get(&format!("/apps/{}/keys", seg(&app)))?),
                KeysAction::Issue {
                    app,
                    kind,
                    label,
                    class,
                    secret_only,
                } => {
                    let mut body = json!({ "kind": kind });
                    if let Some(label) = label {
                        body["label"] = Value::String(label);
                    }
                    // Checked by the API (400 naming `class`), like every other field.
                    if let Some(class) = class {
                        body["class"] = Value::String(class);
                    }
                    let out = c.send("POST", &format!("/apps/{}/keys", seg(&app)), Some(body))?;
                    if secret_only {
                        println!("{}", out["secret"].as_str().unwrap_or_default());
                        Ok(())
                    } else {
                        print(&out)
                    }
                }
                KeysAction::Rotate {
                    app,
                    key,
                    overlap_secs,
                } => {
                    let body = match overlap_secs {
                        Some(s) => json!({ "overlap_secs": s }),
                        None => json!({}),
                    };
                    print(&c.send(
                        "POST",
                        &format!("/apps/{}/keys/{}/rotate", seg(&app), seg(&key)),
                        Some(body),
                    )?)
                }
                KeysAction::Revoke { app, key } => print(&c.send(
                    "DELETE",
                    &format!("/apps/{}/keys/{}", seg(&app), seg(&key)),
                    None,
                )?),
            }
        }
        AdminCommand::Links(l) => {
            let c = client(&l.conn)?;
            let out = match l.action {
                LinksAction::List { app } => c.get(&format!("/apps/{}/links", seg(&app)))?,
                LinksAction::Show { app, link } => {
                    c.get(&format!("/apps/{}/links/{}", seg(&app), seg(&link)))?
                }
                LinksAction::Create {
                    app,
                    destination,
                    id,
                    source,
                    medium,
                    campaign,
                    content,
                    term,
                } => {
                    let mut body = Map::new();
                    body.insert("destination_url".into(), Value::String(destination));
                    optional(&mut body, "id", &id);
                    optional(&mut body, "source", &source);
                    optional(&mut body, "medium", &medium);
                    optional(&mut body, "campaign", &campaign);
                    optional(&mut body, "content", &content);
                    optional(&mut body, "term", &term);
                    c.send(
                        "POST",
                        &format!("/apps/{}/links", seg(&app)),
                        Some(Value::Object(body)),
                    )?
                }
                LinksAction::Delete { app, link } => c.send(
                    "DELETE",
                    &format!("/apps/{}/links/{}", seg(&app), seg(&link)),
                    None,
                )?,
            };
            print(&out)
        }
        AdminCommand::Postbacks(p) => {
            let c = client(&p.conn)?;
            let out = match p.action {
                PostbacksAction::List { app } => {
                    c.get(&format!("/apps/{}/postbacks", seg(&app)))?
                }
                PostbacksAction::Create {
                    app,
                    network,
                    url,
                    method,
                    events,
                } => c.send(
                    "POST",
                    &format!("/apps/{}/postbacks", seg(&app)),
                    Some(json!({ "network": network, "url": url, "method": method, "events": events })),
                )?,
                PostbacksAction::Enable {
                    app,
                    network,
                    enabled,
                } => c.send(
                    "PATCH",
                    &format!("/apps/{}/postbacks/{}", seg(&app), seg(&network)),
                    Some(json!({ "enabled": enabled })),
                )?,
                PostbacksAction::Delete { app, network } => c.send(
                    "DELETE",
                    &format!("/apps/{}/postbacks/{}", seg(&app), seg(&network)),
                    None,
                )?,
                PostbacksAction::Test { app, network } => c.send(
                    "POST",
                    &format!("/apps/{}/postbacks/{}/test", seg(&app), seg(&network)),
                    None,
                )?,
                PostbacksAction::Attempts { app } => {
                    c.get(&format!("/apps/{}/postback-attempts", seg(&app)))?
                }
            };
            print(&out)
        }
        AdminCommand::Settings(s) => {
            let c = client(&s.conn)?;
            let out = match s.action {
                SettingsAction::Show { app } => c.get(&format!("/apps/{}/settings", seg(&app)))?,
                SettingsAction::Set {
                    app,
                    patch,
                    version,
                    pairs,
                } => {
                    let mut body = match patch {
                        Some(text) => {
                            match serde_json::from_str(&text).context("--patch is not JSON")? {
                                Value::Object(map) => map,
                                _ => bail!("--patch must be a JSON object"),
                            }
                        }
                        None => Map::new(),
                    };
                    body.extend(pairs_patch(&pairs)?);
                    if body.is_empty() {
                        bail!("nothing to set: pass --patch or name=value pairs");
                    }
                    if let Some(v) = version {
                        body.insert("version".into(), json!(v));
                    }
                    c.send(
                        "PATCH",
                        &format!("/apps/{}/settings", seg(&app)),
                        Some(Value::Object(body)),
                    )?
                }
            };
            print(&out)
        }
        AdminCommand::Spend(s) => {
            let c = client(&s.conn)?;
            let out = match s.action {
                SpendAction::Import { app, file, format } => {
                    let bytes = std::fs::read(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let content_type = spend_content_type(&file, format.as_deref(), &bytes)?;
                    c.send_raw(
                        "PUT",
                        &format!("/apps/{}/spend", seg(&app)),
                        Some((content_type, bytes)),
                    )?
                }
                SpendAction::List {
                    app,
                    from,
                    to,
                    limit,
                } => {
                    let mut query = url_query(&[("from", from), ("to", to)]);
                    if let Some(l) = limit {
                        query.push_str(&format!(
                            "{}limit={l}",
                            if query.is_empty() { "?" } else { "&" }
                        ));
                    }
                    c.get(&format!("/apps/{}/spend{query}", seg(&app)))?
                }
            };
            print(&out)
        }
        AdminCommand::Regulations(r) => {
            let c = client(&r.conn)?;
            let out = match r.action {
                RegulationsAction::Create {
                    app,
                    regulation_type,
                    subject_type,
                    ids,
                } => c.send(
                    "POST",
                    &format!("/apps/{}/regulations", seg(&app)),
                    Some(json!({
                        "regulationType": regulation_type,
                        "subjectType": subject_type,
                        "subjectIds": ids,
                    })),
                )?,
                RegulationsAction::Show { app, id } => {
                    c.get(&format!("/apps/{}/regulations/{}", seg(&app), seg(&id)))?
                }
                RegulationsAction::List { app, limit, before } => {
                    let query =
                        url_query(&[("limit", limit.map(|l| l.to_string())), ("before", before)]);
                    c.get(&format!("/apps/{}/regulations{query}", seg(&app)))?
                }
            };
            print(&out)
        }
        AdminCommand::Audit(a) => {
            let c = client(&a.conn)?;
            let limit = a.limit.map(|l| format!("?limit={l}")).unwrap_or_default();
            print(&c.get(&format!("/apps/{}/audit{limit}", seg(&a.app)))?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_become_a_merge_patch() {
        let patch = pairs_patch(&[
            "click_window_secs=3600".into(),
            "default_model=linear".into(),
            "conversion_events=[\"Signed Up\"]".into(),
            "fraud_rules=null".into(),
        ])
        .expect("pairs");
        assert_eq!(
            Value::Object(patch),
            json!({"click_window_secs": 3600, "default_model": "linear",
                   "conversion_events": ["Signed Up"], "fraud_rules": null})
        );
        assert!(pairs_patch(&["novalue".into()]).is_err());
        assert_eq!(seg("*"), "%2A");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn spend_files_are_sent_as_csv_or_json() {
        use std::path::Path;
        let csv = spend_content_type(Path::new("s.CSV"), None, b"[").expect("csv");
        assert_eq!(csv, "text/csv", "the extension wins over the content");
        let json = spend_content_type(Path::new("s.json"), None, b"day,").expect("json");
        assert_eq!(json, "application/json");
        let sniffed = spend_content_type(Path::new("spend"), None, b"  [{}]").expect("sniff");
        assert_eq!(sniffed, "application/json");
        let sniffed = spend_content_type(Path::new("spend"), None, b"day,source").expect("sniff");
        assert_eq!(sniffed, "text/csv");
        let forced = spend_content_type(Path::new("s.txt"), Some("JSON"), b"x").expect("forced");
        assert_eq!(forced, "application/json");
        assert!(spend_content_type(Path::new("s"), Some("xml"), b"").is_err());
        assert_eq!(
            url_query(&[("from", Some("2026-03-01".into())), ("to", None)]),
            "?from=2026-03-01"
        );
        assert_eq!(url_query(&[("from", None)]), "");
    }

    #[test]
    fn every_listed_upload_error_is_shown() {
        let body = json!({"success": false, "error": {"code": "invalid_request", "message": "m",
            "field": "row 2, spend", "reason": "must not be negative"},
            "errors": [{"row": 2, "line": 3, "field": "spend", "reason": "must not be negative"},
                       {"row": 4, "field": "row", "reason": "repeats row 1"}]});
        let text = client::listed_errors(&body);
        assert!(
            text.contains("row 2 (line 3), spend: must not be negative"),
            "{text}"
        );
        assert!(text.contains("row 4, row: repeats row 1"), "{text}");
        assert_eq!(client::listed_errors(&json!({"error": {}})), "");
    }
}
