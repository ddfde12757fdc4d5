//! The fs backend's download URLs: CoLink serves the bytes itself, with the stored type, a
//! `Content-Disposition` that cannot be broken out of, and single-range requests (`Range:
//! bytes=…`, so players can seek and downloads can resume).

use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{downloadable, load, served_as};
use crate::{
    app::AppState,
    error::{AppError, AppResult, ErrorCode},
    service::now,
    storage::{self, Variant},
};

/// A download, ready to stream.
pub struct Served {
    pub content_type: String,
    pub disposition: String,
    /// Bytes in this response.
    pub length: u64,
    /// For a range request: `(first, last, total)`.
    pub range: Option<(u64, u64, u64)>,
    pub body: Box<dyn Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Unpin>,
}

/// Check a signed download URL and open the object (or the requested range of it).
pub async fn serve(
    state: &AppState,
    id: Uuid,
    variant: Variant,
    expires: i64,
    signature: &str,
    range: Option<&str>,
) -> AppResult<Served> {
    let valid = !state.storage.is_s3()
        && state.storage.signer().verify(
            "GET",
            id,
            variant,
            expires,
            signature,
            now().unix_timestamp(),
        );
    if !valid {
        return Err(AppError::forbidden(
            "the download URL is invalid or expired",
        ));
    }
    let f = load(&state.db, id).await?;
    downloadable(&f)?;
    let key = storage::object_key(id, variant);
    let total = match variant {
        Variant::Original => u64::try_from(f.size_bytes).unwrap_or(0),
        Variant::Thumbnail => state.storage.size(&key).await?,
    };
    let wanted = match range {
        Some(header) => parse_range(header, total)?,
        None => None,
    };
    let (first, end) = wanted.map_or((0, total), |(a, b)| (a, b + 1));
    let reader = state.storage.reader(&key).await?;
    let stream = reader
        .into_bytes_stream(first..end)
        .await
        .map_err(storage::StorageError::from)?;
    let (content_type, disposition) = served_as(&f, variant);
    Ok(Served {
        content_type,
        disposition,
        length: end - first,
        range: wanted.map(|(a, b)| (a, b, total)),
        body: Box::new(stream.map(|r| r.map_err(std::io::Error::other))),
    })
}

/// One `bytes=` range of an object of `total` bytes, as `(first, last)` inclusive; `None` to
/// serve it whole (a header this server does not honour, such as several ranges); 416 when
/// nothing of it is in the object.
pub fn parse_range(header: &str, total: u64) -> AppResult<Option<(u64, u64)>> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let unsatisfiable = || {
        AppError::new(
            ErrorCode::RangeNotSatisfiable,
            format!("the file has {total} bytes"),
        )
    };
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let parsed = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| unsatisfiable())?;
            if n == 0 || total == 0 {
                return Err(unsatisfiable());
            }
            (total.saturating_sub(n), total - 1)
        }
        (first, "") => (
            first.parse().map_err(|_| unsatisfiable())?,
            total.saturating_sub(1),
        ),
        (first, last) => {
            let first: u64 = first.parse().map_err(|_| unsatisfiable())?;
            let last: u64 = last.parse().map_err(|_| unsatisfiable())?;
            (first, last.min(total.saturating_sub(1)))
        }
    };
    if parsed.0 >= total || parsed.0 > parsed.1 {
        return Err(unsatisfiable());
    }
    Ok(Some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-500", 100).unwrap(), Some((0, 99)));
        assert_eq!(parse_range("bytes=50-5000", 100).unwrap(), Some((50, 99)));
        // Served whole: other units, several ranges.
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100).unwrap(), None);
        // Nothing of it in the file.
        for bad in [
            "bytes=100-",
            "bytes=5-4",
            "bytes=-0",
            "bytes=x-1",
            "bytes=1-y",
        ] {
            let e = parse_range(bad, 100).unwrap_err();
            assert_eq!(e.code, ErrorCode::RangeNotSatisfiable, "{bad}");
        }
        assert!(parse_range("bytes=0-", 0).is_err());
    }
}
