//! Thumbnails: decode an image with bounded work and memory, scale it to fit a square, encode
//! it as PNG. The dimensions are read from the header first; an image with more pixels than the
//! limit (a decompression bomb: a few kilobytes that inflate to gigabytes) is never decoded.

use std::io::Cursor;

use image::{ImageReader, Limits};

/// Images larger than this (in bytes) get no thumbnail: they are read into memory to decode.
pub const MAX_SOURCE_BYTES: u64 = 50 * 1024 * 1024;

/// A PNG thumbnail of `bytes`, at most `size` pixels on its longer side.
pub fn make(bytes: &[u8], max_pixels: u64, size: u32) -> Result<Vec<u8>, String> {
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| e.to_string())
    };
    let (w, h) = reader()?.into_dimensions().map_err(|e| e.to_string())?;
    let pixels = u64::from(w) * u64::from(h);
    if pixels > max_pixels {
        return Err(format!(
            "{w}×{h} is more than {max_pixels} pixels; not decoded"
        ));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // RGBA at 4 bytes a pixel (16-bit formats at 8), plus the decoder's own buffers.
    limits.max_alloc = Some(pixels.saturating_mul(8).saturating_add(64 * 1024 * 1024));
    let mut decoder = reader()?;
    decoder.limits(limits);
    let image = decoder.decode().map_err(|e| e.to_string())?;
    let thumb = image.thumbnail(size, size);
    let mut out = Vec::new();
    thumb
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn thumbnails_fit_the_size_and_keep_the_aspect_ratio() {
        let thumb = make(&png(800, 400), 1_000_000, 200).unwrap();
        let (w, h) = ImageReader::new(Cursor::new(&thumb))
            .with_guessed_format()
            .unwrap()
            .into_dimensions()
            .unwrap();
        assert_eq!((w, h), (200, 100));
    }

    #[test]
    fn an_image_over_the_pixel_limit_is_not_decoded() {
        // A header claiming 100,000 × 100,000 pixels.
        let bomb = bomb_png(100_000, 100_000);
        let err = make(&bomb, 50_000_000, 200).unwrap_err();
        assert!(err.contains("not decoded"), "{err}");
    }

    /// A PNG whose header declares `w`×`h` with almost no data (a decompression bomb's shape).
    pub(crate) fn bomb_png(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend_from_slice(&13u32.to_be_bytes());
        let mut chunk = b"IHDR".to_vec();
        chunk.extend_from_slice(&ihdr);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
        // One IDAT holding an empty zlib stream, and IEND: a complete file of a few bytes.
        for (kind, data) in [
            (&b"IDAT"[..], &b"\x78\x9c\x03\x00\x00\x00\x00\x01"[..]),
            (b"IEND", b""),
        ] {
            out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
            let mut chunk = kind.to_vec();
            chunk.extend_from_slice(data);
            out.extend_from_slice(&chunk);
            out.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
