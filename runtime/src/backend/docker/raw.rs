//! Engine API requests whose bodies SME keeps as JSON: a service's spec,
//! read and sent back by an update.
//!
//! An update replaces the whole spec, so it must send back every part of
//! the spec it read. bollard's typed `ServiceSpec` drops what its model
//! lacks or spells differently: the daemon answers
//! `TaskTemplate.ContainerSpec.Healthcheck`, the model (from the API's
//! description) expects `HealthCheck`, and a spec sent back through it has
//! lost the service's health check. So this round trip goes through hyper
//! (the HTTP client under bollard) with the spec as a `serde_json::Value`,
//! changing only the keys SME means to change.

use std::time::Duration;

use bollard::errors::Error as BollardError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{DockerError, Result};

/// Where the daemon listens.
#[derive(Debug, Clone)]
enum Address {
    /// A Unix socket's path.
    Unix(String),
    /// `host:port`.
    Tcp(String),
}

/// A client for JSON requests to one endpoint, one connection per request
/// (updates are rare; reads go through bollard).
#[derive(Debug, Clone)]
pub(super) struct RawClient {
    address: Address,
    /// `/v1.41`: the API version bollard speaks too.
    prefix: String,
    timeout: Duration,
}

/// An answer: the HTTP status and the body.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl RawClient {
    /// A client for `endpoint` (`unix:///path`, `tcp://host:port` or
    /// `http://host:port`); none for any other.
    pub(super) fn new(endpoint: &str, prefix: String, timeout: Duration) -> Option<RawClient> {
        let address = if let Some(path) = endpoint.strip_prefix("unix://") {
            Address::Unix(path.to_owned())
        } else {
            let rest = endpoint
                .strip_prefix("tcp://")
                .or_else(|| endpoint.strip_prefix("http://"))?;
            Address::Tcp(rest.trim_end_matches('/').to_owned())
        };
        Some(RawClient {
            address,
            prefix,
            timeout,
        })
    }

    /// `GET {path}`.
    pub(super) async fn get(&self, path: &str) -> Result<Answer, BollardError> {
        self.send("GET", path, None).await
    }

    /// `POST {path}` with a JSON body.
    pub(super) async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Answer, BollardError> {
        self.send("POST", path, Some(body)).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, BollardError> {
        let host = match &self.address {
            Address::Unix(_) => "docker",
            Address::Tcp(host) => host,
        };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header("Host", host);
        let payload = match body {
            Some(body) => {
                request = request.header("Content-Type", "application/json");
                Bytes::from(serde_json::to_vec(body)?)
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(payload))?;
        let exchange = async {
            match &self.address {
                Address::Unix(path) => {
                    exchange(tokio::net::UnixStream::connect(path).await?, request).await
                }
                Address::Tcp(host) => {
                    exchange(tokio::net::TcpStream::connect(host).await?, request).await
                }
            }
        };
        let answer = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| BollardError::RequestTimeoutError)??;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        Err(BollardError::DockerResponseServerError {
            status_code: answer.status,
            message: error_message(&answer.body),
        })
    }
}

/// Sends `request` on a fresh connection over `stream` and reads the whole
/// answer.
async fn exchange<S>(stream: S, request: Request<Full<Bytes>>) -> Result<Answer, BollardError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection is driven beside the request; it ends once the sender
    // is dropped with the answer read.
    let request = async move {
        let response: hyper::Response<Incoming> = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>(Answer { status, body })
    };
    let (answer, connection) = futures_util::future::join(request, connection).await;
    let answer = answer?;
    connection?;
    Ok(answer)
}

/// The daemon's message in an error answer (`{"message": "..."}`), or the
/// body itself when it is not that, as bollard reads it.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    match serde_json::from_slice::<Message>(body) {
        Ok(answer) => answer.message,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

/// Reads a JSON answer.
pub(super) fn json(answer: &Answer) -> Result<serde_json::Value> {
    serde_json::from_slice(&answer.body).map_err(|error| DockerError::Protocol(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_a_socket_or_a_host() {
        let client = |endpoint| RawClient::new(endpoint, "/v1.41".into(), Duration::from_secs(1));
        assert!(matches!(
            client("unix:///var/run/docker.sock").unwrap().address,
            Address::Unix(path) if path == "/var/run/docker.sock"
        ));
        assert!(matches!(
            client("tcp://127.0.0.1:2375/").unwrap().address,
            Address::Tcp(host) if host == "127.0.0.1:2375"
        ));
        assert!(client("ssh://host").is_none());
    }

    #[test]
    fn error_answers_carry_the_daemons_message() {
        assert_eq!(
            error_message(br#"{"message":"service web not found"}"#),
            "service web not found"
        );
        assert_eq!(error_message(b"bad gateway"), "bad gateway");
        assert_eq!(error_message(b""), "");
    }
}
