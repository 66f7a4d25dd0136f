//! The trust server's changefeed, `GET <server>/v2/_trust/changefeed`: one record per
//! published timestamp and per deleted repository, oldest first, by increasing ID. Watchers
//! (such as an admission webhook's cache) read it to learn which repositories changed.

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::{MAX_ERROR_RESPONSE_SIZE, RemoteStore, read_limited};
use crate::error::{Error, RemoteError, Result};
use signet_tuf::notary::envelope;

/// The largest changefeed page read (a page of 1,000 records is about 200 KiB).
const MAX_CHANGEFEED_SIZE: u64 = 4 << 20;

/// The token scope of the changefeed of every repository (as notary-server asks it).
const CATALOG_SCOPE: &str = "registry:catalog:*";

/// One changefeed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Its ID: IDs increase with time.
    pub id: i64,
    /// The repository.
    pub gun: String,
    /// The timestamp version published (0 for a deletion).
    pub version: i64,
    /// `update` or `deletion`.
    pub category: String,
}

/// The wire form: Go's field names, the ID as a string (notary-server) or a number.
#[derive(Deserialize)]
struct Page {
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "ID")]
    id: Id,
    #[serde(rename = "GUN")]
    gun: String,
    #[serde(rename = "Version", default)]
    version: i64,
    #[serde(rename = "Category", default)]
    category: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Number(i64),
    Text(String),
}

impl Id {
    fn value(&self) -> Option<i64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Text(s) => s.parse().ok(),
        }
    }
}

impl RemoteStore {
    /// The newest changefeed record's ID (0 when the feed is empty): where a watcher starts.
    ///
    /// # Errors
    ///
    /// As [`changes_after`](Self::changes_after).
    pub async fn changefeed_head(&self) -> Result<i64> {
        let newest = self.changefeed_page("-1", "1").await?;
        Ok(newest.last().map_or(0, |c| c.id))
    }

    /// Up to `records` changes with an ID above `after`, oldest first.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Offline`], [`RemoteError::Network`], [`RemoteError::Unauthorized`],
    /// [`RemoteError::ServerUnavailable`] for any other status than 200,
    /// [`RemoteError::BadResponse`] for a body that is not a changefeed page.
    pub async fn changes_after(&self, after: i64, records: u32) -> Result<Vec<Change>> {
        self.changefeed_page(&after.to_string(), &records.to_string())
            .await
    }

    async fn changefeed_page(&self, change_id: &str, records: &str) -> Result<Vec<Change>> {
        self.ensure_online()?;
        let resource = "changefeed";
        let mut url = self.v2_url(&["_trust", "changefeed"]);
        url.query_pairs_mut()
            .append_pair("change_id", change_id)
            .append_pair("records", records);
        let resp = self.execute(CATALOG_SCOPE, Method::GET, url, None).await?;
        let status = resp.status();
        if status != StatusCode::OK {
            let body = read_limited(resp, MAX_ERROR_RESPONSE_SIZE)
                .await
                .unwrap_or_default();
            let response = Box::new(envelope::decode(&body));
            return Err(Error::Remote(if status == StatusCode::UNAUTHORIZED {
                RemoteError::Unauthorized {
                    gun: None,
                    resource: resource.to_owned(),
                    response,
                }
            } else {
                RemoteError::ServerUnavailable {
                    gun: None,
                    resource: resource.to_owned(),
                    status: status.as_u16(),
                    response,
                }
            }));
        }
        let body = read_limited(resp, MAX_CHANGEFEED_SIZE).await?;
        parse_page(&body).map_err(|reason| {
            Error::Remote(RemoteError::BadResponse {
                resource: resource.to_owned(),
                reason,
            })
        })
    }
}

/// Parses a changefeed answer; records come back sorted by ID.
fn parse_page(body: &[u8]) -> std::result::Result<Vec<Change>, String> {
    let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut changes =
        page.records
            .into_iter()
            .map(|r| {
                let id = r.id.value().ok_or_else(|| {
                    format!("record of {:?} has an ID that is not a number", r.gun)
                })?;
                Ok(Change {
                    id,
                    gun: r.gun,
                    version: r.version,
                    category: r.category,
                })
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
    changes.sort_by_key(|c| c.id);
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_and_numeric_ids_in_order() {
        let body = br#"{"count":2,"records":[
            {"ID":"12","CreatedAt":"2026-11-23T15:15:54Z","GUN":"example.com/b","Version":0,"SHA256":"","Category":"deletion"},
            {"ID":8,"CreatedAt":"2026-11-23T15:15:54Z","GUN":"example.com/a","Version":5,"SHA256":"ab","Category":"update"}]}"#;
        let changes = parse_page(body).unwrap();
        assert_eq!(
            changes,
            vec![
                Change {
                    id: 8,
                    gun: "example.com/a".into(),
                    version: 5,
                    category: "update".into()
                },
                Change {
                    id: 12,
                    gun: "example.com/b".into(),
                    version: 0,
                    category: "deletion".into()
                },
            ]
        );
    }

    #[test]
    fn refuses_what_is_not_a_page() {
        assert!(parse_page(b"[]").is_err());
        let bad_id = br#"{"records":[{"ID":"x","GUN":"g"}]}"#;
        assert!(parse_page(bad_id).unwrap_err().contains("not a number"));
    }
}
