//! Following remote appeal members: each remote campaign's public progress URL is asked for
//! its figures every `APPEAL_REMOTE_EVERY` (with its ETag, so an unchanged one costs a 304),
//! and what it says is kept with the time it was heard. One that does not answer keeps its
//! last known figures, marked stale. Every instance follows (they write the same figures), so
//! each one's appeal streams hear a change.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ETAG, IF_NONE_MATCH};

use super::Live;
use crate::ledger::appeals::Figures;
use crate::store::RemoteToFollow;

/// The largest progress document read from a remote: a campaign with hundreds of branches
/// fits well within.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a remote has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Asks every remote member that is due, every second, for as long as the process runs.
pub(super) async fn follow(live: Arc<Live>) {
    let client = match reqwest::Client::builder()
        .timeout(ANSWER_WITHIN.min(live.remote_every.max(Duration::from_secs(2))))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("appeal/", env!("CARGO_PKG_VERSION"), " (appeal progress follower)"))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the HTTP client that follows remote appeal members");
            return;
        }
    };
    // When this instance last asked each remote, whatever it managed to keep of the answer:
    // a database that cannot take it does not make it ask every second.
    let mut asked_at: std::collections::HashMap<String, std::time::Instant> =
        std::collections::HashMap::new();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let remotes = match live.store.remotes_to_follow().await {
            Ok(remotes) => remotes,
            Err(error) => {
                tracing::debug!(%error, "cannot read the remote appeal members");
                continue;
            }
        };
        let now = Utc::now();
        let every = chrono::Duration::from_std(live.remote_every).unwrap_or(chrono::Duration::MAX);
        asked_at.retain(|url, _| remotes.iter().any(|remote| &remote.url == url));
        let due: Vec<RemoteToFollow> = remotes
            .into_iter()
            .filter(|remote| remote.tried_at.is_none_or(|tried| now - tried >= every))
            .filter(|remote| asked_at.get(&remote.url).is_none_or(|at| at.elapsed() >= live.remote_every))
            .collect();
        for remote in &due {
            asked_at.insert(remote.url.clone(), std::time::Instant::now());
        }
        let asked = due.into_iter().map(|remote| ask(&client, &live, remote));
        let changed = futures_util::future::join_all(asked).await;
        if changed.into_iter().any(|changed| changed) {
            live.appeals_changed();
        }
    }
}

/// Asks one remote and keeps what it says; whether anything an appeal shows changed.
async fn ask(client: &reqwest::Client, live: &Live, remote: RemoteToFollow) -> bool {
    let answer = fetch(client, &remote).await;
    let at = Utc::now();
    let kept = match answer {
        Ok(Answer::NotModified) => live.store.remote_heard(&remote.url, None, None, at).await,
        Ok(Answer::Figures(figures, etag)) => {
            live.store.remote_heard(&remote.url, Some(&figures), etag.as_deref(), at).await
        }
        Err(why) => {
            tracing::warn!(url = %remote.url, %why, "a remote appeal member did not answer as it should");
            live.store.remote_failed(&remote.url, &why, at).await
        }
    };
    kept.unwrap_or_else(|error| {
        tracing::warn!(%error, url = %remote.url, "cannot keep what a remote appeal member said");
        false
    })
}

enum Answer {
    NotModified,
    Figures(Figures, Option<String>),
}

async fn fetch(client: &reqwest::Client, remote: &RemoteToFollow) -> Result<Answer, String> {
    let mut request = client.get(&remote.url).header(ACCEPT, "application/json");
    if let Some(etag) = &remote.etag {
        request = request.header(IF_NONE_MATCH, etag);
    }
    let mut response = request.send().await.map_err(|error| crate::webhooks::describe(&error))?;
    match response.status() {
        StatusCode::NOT_MODIFIED if remote.etag.is_some() => return Ok(Answer::NotModified),
        StatusCode::OK => {}
        status => return Err(format!("answered {status}")),
    }
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.len() <= 200)
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| crate::webhooks::describe(&error))? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("answered more than {MAX_BODY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let figures = Figures::from_progress(&body).map_err(|why| format!("answered a document that {why}"))?;
    Ok(Answer::Figures(figures, etag))
}
