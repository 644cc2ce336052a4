//! Content codings: a browser hands a response's body on with its
//! `Content-Encoding` undone (Fetch's "handle content codings"), so a
//! record's body is stored decoded. The headers stay as the server sent
//! them, as in a browser.
//! (Background Fetch, "complete a record", step 8, notes that a request with a
//! `Range` header asks for `Accept-Encoding: identity`: a coded body cannot
//! resume, see `download.rs`.)

use std::pin::Pin;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder};
use futures::StreamExt;
use tokio::io::{AsyncBufRead, BufReader};
use tokio_util::io::{ReaderStream, StreamReader};

/// A body as a stream of chunks.
pub(super) type BodyStream = futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Coding {
  Gzip,
  Deflate,
  Brotli,
}

/// The codings of a `Content-Encoding` value, in the order they were
/// applied; empty for none (or `identity`). None when one of them is a
/// coding we cannot undo: Fetch then leaves the body as it came.
pub(super) fn parse(content_encoding: Option<&str>) -> Option<Vec<Coding>> {
  let Some(value) = content_encoding else {
    return Some(Vec::new());
  };
  value
    .split(',')
    .map(|c| c.trim().to_ascii_lowercase())
    .filter(|c| !c.is_empty() && c != "identity")
    .map(|c| match c.as_str() {
      "gzip" | "x-gzip" => Some(Coding::Gzip),
      "deflate" => Some(Coding::Deflate),
      "br" => Some(Coding::Brotli),
      _ => None,
    })
    .collect()
}

/// `raw` with `codings` undone, last applied first. A body that does not
/// decode ends in an `InvalidData` error, as a network error would.
pub(super) fn decode(codings: &[Coding], raw: BodyStream) -> BodyStream {
  if codings.is_empty() {
    return raw;
  }
  let mut reader: Pin<Box<dyn AsyncBufRead + Send>> = Box::pin(StreamReader::new(raw));
  for coding in codings.iter().rev() {
    reader = match coding {
      Coding::Gzip => {
        let mut d = GzipDecoder::new(reader);
        d.multiple_members(true);
        Box::pin(BufReader::new(d))
      }
      Coding::Deflate => Box::pin(BufReader::new(ZlibDecoder::new(reader))),
      Coding::Brotli => Box::pin(BufReader::new(BrotliDecoder::new(reader))),
    };
  }
  ReaderStream::with_capacity(reader, 256 * 1024).boxed()
}

#[cfg(test)]
mod tests {
  use super::*;
  use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZlibEncoder};
  use tokio::io::AsyncReadExt;

  #[test]
  fn parses_content_encoding() {
    assert_eq!(parse(None), Some(vec![]));
    assert_eq!(parse(Some("identity")), Some(vec![]));
    assert_eq!(parse(Some("GZIP")), Some(vec![Coding::Gzip]));
    assert_eq!(
      parse(Some("deflate, br")),
      Some(vec![Coding::Deflate, Coding::Brotli])
    );
    assert_eq!(parse(Some("x-gzip")), Some(vec![Coding::Gzip]));
    assert_eq!(parse(Some("gzip, zstd")), None);
  }

  async fn encode(coding: Coding, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
      Coding::Gzip => GzipEncoder::new(data).read_to_end(&mut out).await,
      Coding::Deflate => ZlibEncoder::new(data).read_to_end(&mut out).await,
      Coding::Brotli => BrotliEncoder::new(data).read_to_end(&mut out).await,
    }
    .unwrap();
    out
  }

  /// The encoded body cut into small chunks, as a network delivers it.
  fn chunked(bytes: Vec<u8>) -> BodyStream {
    let chunks: Vec<std::io::Result<bytes::Bytes>> = bytes
      .chunks(7)
      .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
      .collect();
    futures::stream::iter(chunks).boxed()
  }

  async fn collect(mut s: BodyStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
      out.extend_from_slice(&chunk?);
    }
    Ok(out)
  }

  #[tokio::test]
  async fn undoes_each_coding_and_a_chain_of_them() {
    let text: Vec<u8> = b"an episode of a podcast, ".repeat(2000);
    for c in [Coding::Gzip, Coding::Deflate, Coding::Brotli] {
      let body = encode(c, &text).await;
      assert!(body.len() < text.len());
      assert_eq!(
        collect(decode(&[c], chunked(body))).await.unwrap(),
        text,
        "{c:?}"
      );
    }
    // "Content-Encoding: deflate, gzip": deflate applied first.
    let twice = encode(Coding::Gzip, &encode(Coding::Deflate, &text).await).await;
    let decoded = decode(&[Coding::Deflate, Coding::Gzip], chunked(twice));
    assert_eq!(collect(decoded).await.unwrap(), text);
    // Two gzip members, one after the other, are one body.
    let mut members = encode(Coding::Gzip, b"first ").await;
    members.extend(encode(Coding::Gzip, b"second").await);
    let decoded = decode(&[Coding::Gzip], chunked(members));
    assert_eq!(collect(decoded).await.unwrap(), b"first second");
  }

  #[tokio::test]
  async fn a_body_that_does_not_decode_is_an_error() {
    let garbage = b"this is not gzip at all".to_vec();
    let err = collect(decode(&[Coding::Gzip], chunked(garbage)))
      .await
      .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let mut cut = encode(Coding::Gzip, &b"x".repeat(10000)).await;
    cut.truncate(cut.len() / 2);
    assert!(collect(decode(&[Coding::Gzip], chunked(cut)))
      .await
      .is_err());
  }
}
