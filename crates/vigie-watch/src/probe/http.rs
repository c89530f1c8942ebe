//! One HTTP/1.1 exchange with hyper's client connection API, driven in the
//! probe's own task (no spawn): GET, head, body read frame by frame up to
//! the cap, every await bounded by the deadline.

use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper::body::Body as _;
use hyper::header::{ACCEPT, CONNECTION, CONTENT_LENGTH, HOST, HeaderValue, LOCATION, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use url::Url;

use super::{
    ErrorKind, Hop, HttpInfo, Phase, ProbeError, ProbeOutcome, classify_io, err, is_redirect,
    timeout_err,
};

/// Largest response head accepted (hyper's read buffer).
const MAX_HEAD: usize = 128 * 1024;
/// Most headers a response may have (more is a protocol error).
const MAX_HEADERS_PARSED: usize = 256;
/// Headers kept in [`HttpInfo::headers`].
const MAX_HEADERS: usize = 64;
/// Bytes kept of one header value.
const MAX_HEADER_VALUE: usize = 1024;
/// Largest body buffer allocated up front.
const MAX_INITIAL_BUFFER: usize = 64 * 1024;

pub(super) struct Exchange<'a> {
    pub(super) url: &'a Url,
    pub(super) user_agent: &'a HeaderValue,
    pub(super) deadline: Instant,
    pub(super) start: Instant,
    pub(super) max_body: usize,
    pub(super) follow_redirects: bool,
}

/// Polls `fut` while also driving the connection `conn` (which does the
/// actual I/O), until `fut` completes. When the connection ends first,
/// `fut` is polled alone: it then completes promptly (with the rest of the
/// data, or an error).
async fn drive<C, F>(mut conn: Pin<&mut C>, conn_done: &mut bool, fut: F) -> F::Output
where
    C: Future<Output = hyper::Result<()>>,
    F: Future,
{
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            res = conn.as_mut(), if !*conn_done => {
                *conn_done = true;
                if let Err(e) = res {
                    tracing::trace!("probe connection ended: {e}");
                }
            }
        }
    }
}

fn hyper_error(phase: Phase, e: &hyper::Error) -> ProbeError {
    let mut kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        ErrorKind::Protocol
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        ErrorKind::Reset
    } else {
        ErrorKind::Other
    };
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = source {
        if depth >= 8 {
            break;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let io_kind = classify_io(io);
            if io_kind != ErrorKind::Other {
                kind = io_kind;
            }
        }
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
        depth += 1;
    }
    err(phase, kind, message)
}

fn host_header(url: &Url) -> Option<HeaderValue> {
    let host = url.host_str()?;
    let value = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    HeaderValue::from_str(&value).ok()
}

fn capped_value(v: &HeaderValue) -> String {
    let bytes = v.as_bytes();
    let bytes = &bytes[..bytes.len().min(MAX_HEADER_VALUE)];
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends the GET on `io` and reads the response, filling `out.phases`.
pub(super) async fn exchange<S>(
    io: S,
    ctx: &Exchange<'_>,
    out: &mut ProbeOutcome,
    phase: &mut Phase,
) -> Hop
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    *phase = Phase::Http;
    let Some(host) = host_header(ctx.url) else {
        return Hop::Failed(err(Phase::Http, ErrorKind::BadUrl, "URL host not usable"));
    };
    let target = match ctx.url.query() {
        Some(q) => format!("{}?{q}", ctx.url.path()),
        None => ctx.url.path().to_owned(),
    };
    let request = match hyper::Request::get(target.as_str())
        .header(HOST, host)
        .header(USER_AGENT, ctx.user_agent.clone())
        .header(ACCEPT, HeaderValue::from_static("text/html,*/*"))
        .header(CONNECTION, HeaderValue::from_static("close"))
        .body(Empty::<Bytes>::new())
    {
        Ok(r) => r,
        Err(e) => {
            return Hop::Failed(err(
                Phase::Http,
                ErrorKind::BadUrl,
                format!("request target {target:?}: {e}"),
            ));
        }
    };

    let mut builder = hyper::client::conn::http1::Builder::new();
    builder
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS_PARSED);
    let handshake = builder.handshake::<_, Empty<Bytes>>(TokioIo::new(io));
    let (mut sender, conn) = match tokio::time::timeout_at(ctx.deadline, handshake).await {
        Err(_) => return Hop::Failed(timeout_err(Phase::Http, ctx.start)),
        Ok(Err(e)) => return Hop::Failed(hyper_error(Phase::Http, &e)),
        Ok(Ok(pair)) => pair,
    };
    tokio::pin!(conn);
    let mut conn_done = false;

    let sent = Instant::now();
    let response = match tokio::time::timeout_at(
        ctx.deadline,
        drive(conn.as_mut(), &mut conn_done, sender.send_request(request)),
    )
    .await
    {
        Err(_) => return Hop::Failed(timeout_err(Phase::Http, ctx.start)),
        Ok(Err(e)) => return Hop::Failed(hyper_error(Phase::Http, &e)),
        Ok(Ok(response)) => response,
    };
    out.phases.first_byte = Some(sent.elapsed());

    let status = response.status().as_u16();
    let content_length = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| (name.as_str().to_owned(), capped_value(value)))
        .collect();
    let location = response
        .headers()
        .get(LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut info = HttpInfo {
        status,
        redirects: Vec::new(),
        final_url: ctx.url.to_string(),
        headers,
        body: Bytes::new(),
        body_truncated: false,
        content_length,
    };
    if ctx.follow_redirects
        && is_redirect(status)
        && let Some(location) = location
    {
        // The body of a redirect is not read; the connection is dropped.
        return Hop::Redirect { info, location };
    }

    // Body
    *phase = Phase::Body;
    let mut body = response.into_body();
    let cap = ctx.max_body;
    let mut buf = BytesMut::with_capacity(
        content_length
            .map_or(MAX_INITIAL_BUFFER, |l| {
                usize::try_from(l).unwrap_or(usize::MAX)
            })
            .min(cap)
            .min(MAX_INITIAL_BUFFER),
    );
    let mut error = None;
    loop {
        if buf.len() >= cap {
            info.body_truncated = match content_length {
                Some(l) => l > u64::try_from(cap).unwrap_or(u64::MAX),
                None => !body.is_end_stream(),
            };
            break;
        }
        let frame = match tokio::time::timeout_at(
            ctx.deadline,
            drive(conn.as_mut(), &mut conn_done, body.frame()),
        )
        .await
        {
            Err(_) => {
                error = Some(timeout_err(Phase::Body, ctx.start));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                error = Some(hyper_error(Phase::Body, &e));
                break;
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            let room = cap - buf.len();
            if data.len() > room {
                buf.extend_from_slice(&data[..room]);
                info.body_truncated = true;
                break;
            }
            buf.extend_from_slice(&data);
        }
    }
    info.body = buf.freeze();
    Hop::Done { info, error }
}
