//! Request bodies and who sent them. A login or revocation body is urlencoded bytes, the parts
//! of a multipart body, or (JSON, text, no body) nothing, which FastAPI answers with the
//! missing form fields; auth-core parses each without re-encoding.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};

use super::MAX_BODY;
use super::error::ApiError;
use crate::service::Client;

/// A form body, read. See the module docs.
pub(super) enum FormBody {
    Urlencoded(Bytes),
    Fields(Vec<Part>),
}

/// One multipart part: its name and its bytes.
type Part = (String, Bytes);

/// A part as the core's `…_from_fields` parsers take it.
type PartView<'b> = fn(&'b Part) -> (&'b str, &'b [u8]);

/// A multipart body's parts as the core's `…_from_fields` parsers take them.
pub(super) type Parts<'b> = std::iter::Map<std::slice::Iter<'b, Part>, PartView<'b>>;

impl FormBody {
    /// Reads the body of `req`: 413 over [`MAX_BODY`], 422 for a malformed multipart body.
    pub(super) async fn read(req: Request) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            return multipart(req).await;
        }
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| {
                ApiError::Body(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large".into())
            })?;
        if content_type.starts_with("application/x-www-form-urlencoded") {
            Ok(FormBody::Urlencoded(body))
        } else {
            Ok(FormBody::Fields(Vec::new()))
        }
    }

    /// Parses the body with `urlencoded` (decoding into `buf`) or, for a multipart body, with
    /// `parts` over its fields directly.
    pub(super) fn parse<'b, T>(
        &'b self,
        buf: &'b mut Vec<u8>,
        urlencoded: impl FnOnce(&'b [u8], &'b mut [u8]) -> T,
        parts: impl FnOnce(Parts<'b>) -> T,
    ) -> T {
        match self {
            FormBody::Urlencoded(bytes) => {
                buf.resize(bytes.len(), 0);
                urlencoded(bytes, buf)
            }
            FormBody::Fields(fields) => {
                let part: PartView<'b> = |(n, v)| (n.as_str(), &v[..]);
                parts(fields.iter().map(part))
            }
        }
    }
}

/// A multipart body's parts. Over the limit is 413; any other malformed body is not a form:
/// 422.
async fn multipart(req: Request) -> Result<FormBody, ApiError> {
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::Body(StatusCode::UNPROCESSABLE_ENTITY, e.body_text()))?;
    let bad = |e: MultipartError| {
        let status = match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::Body(status, e.body_text())
    };
    let mut fields = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let value = field.bytes().await.map_err(bad)?;
        fields.push((name, value));
    }
    Ok(FormBody::Fields(fields))
}

/// Who is asking: the peer address (the accept loop has put the client's, after trusted
/// proxies, in `ConnectInfo`) and its `User-Agent`, shortened to 200 bytes of printable ASCII.
pub(super) fn client_of(req: &Request) -> Client {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| {
            v.as_bytes()
                .iter()
                .take(200)
                .filter(|b| b.is_ascii_graphic() || **b == b' ')
                .map(|&b| char::from(b))
                .collect()
        })
        .unwrap_or_default();
    Client { ip, user_agent }
}
