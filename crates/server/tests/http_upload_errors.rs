//! Uploads refused before validation: bad multipart, missing file names, bad role names,
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! undecodable JSON and oversize bodies. Each leaves the store untouched.

mod common;

use axum::http::StatusCode;
use common::{BOUNDARY, TestServer};
use signet_server::http::HttpSettings;

const GUN: &str = "example.com/app";
const URI: &str = "/v2/example.com/app/_trust/tuf/";

async fn assert_untouched(s: &TestServer) {
    for role in ["root", "targets", "snapshot", "timestamp"] {
        assert!(
            s.store.latest(GUN, role).await.unwrap().is_none(),
            "{role} was stored"
        );
    }
    assert_eq!(s.change_count(GUN).await, 0);
}

#[tokio::test]
async fn non_multipart_bodies_are_malformed_uploads() {
    let s = TestServer::new().await;
    let ok_ct = format!("multipart/form-data; boundary={BOUNDARY}");
    for (ct, body) in [
        (None, b"{}".to_vec()),
        (Some("application/json"), b"{}".to_vec()),
        (Some("multipart/form-data"), b"--x--".to_vec()),
        (Some("multipart/form-data; boundary="), b"--x--".to_vec()),
        (Some(ok_ct.as_str()), b"no boundary at all".to_vec()),
        (Some(ok_ct.as_str()), Vec::new()),
        (
            Some(ok_ct.as_str()),
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; filename=root\r\n\r\n{{}}")
                .into_bytes(),
        ),
        (
            Some(ok_ct.as_str()),
            format!("--{BOUNDARY}\r\nbroken header\r\n\r\n{{}}\r\n--{BOUNDARY}--").into_bytes(),
        ),
    ] {
        let r = s.post_raw(URI, ct, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{ct:?} {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(r.error_code(), "MALFORMED_UPLOAD");
        assert!(r.body.len() < 1024);
    }
    assert_untouched(&s).await;
}

#[tokio::test]
async fn parts_without_file_name() {
    let s = TestServer::new().await;
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    for disposition in [
        "",
        "Content-Disposition: form-data; name=\"files\"\r\n",
        "Content-Disposition: form-data; filename=\"\"\r\n",
        "Content-Disposition: form-data; filename=\".json\"\r\n",
        "Content-Disposition: ; filename=root\r\n",
    ] {
        let body = format!("--{BOUNDARY}\r\n{disposition}\r\n{{}}\r\n--{BOUNDARY}--\r\n");
        let r = s.post_raw(URI, Some(&ct), body.into_bytes()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{disposition:?}");
        assert_eq!(r.error_code(), "NO_FILENAME");
    }
    assert_untouched(&s).await;
}

#[tokio::test]
async fn invalid_role_names_carry_the_role_as_detail() {
    let s = TestServer::new().await;
    for role in [
        "foo",
        "targets/Foo",
        "../targets",
        "/targets",
        "targets/",
        "targets//x",
    ] {
        let r = s.upload(GUN, &[(role, b"{}")]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{role}");
        assert_eq!(r.error_code(), "INVALID_ROLE");
        assert_eq!(r.json()["errors"][0]["detail"], role);
    }
    // The first bad part wins, even after a good one.
    let r = s.upload(GUN, &[("targets", b"{}"), ("nope", b"{}")]).await;
    assert_eq!(r.error_code(), "INVALID_ROLE");
    assert_untouched(&s).await;
}

#[tokio::test]
async fn undecodable_parts_are_malformed_json() {
    let s = TestServer::new().await;
    for data in [
        &b"not json"[..],
        b"[]",
        b"{\"signed\":{\"version\":\"2\"}}",
        b"{\"signed\":{\"expires\":\"next week\"}}",
        b"{\"signed\":{\"version\":1},\"signatures\":[{\"sig\":\"***\"}]}",
    ] {
        let r = s.upload(GUN, &[("targets.json", data)]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.error_code(), "MALFORMED_JSON");
        assert!(r.json()["errors"][0].get("detail").is_none());
    }
    assert_untouched(&s).await;
}

#[tokio::test]
async fn oversize_bodies_get_413_in_the_envelope() {
    let s = TestServer::with_settings(
        HttpSettings {
            max_body_bytes: 1000,
            ..HttpSettings::default()
        },
        None,
    )
    .await;
    let big = vec![b' '; 2000];
    let r = s.upload(GUN, &[("targets", &big)]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error_code(), "TOO_LARGE");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_untouched(&s).await;
}
