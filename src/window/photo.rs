//! A photo a household sends with its report, made safe to keep: decoded
//! with caps (bytes, pixels, memory), turned upright, shrunk to at most
//! `MAX_SIDE` pixels a side and re-encoded as a plain JPEG. Nothing of the
//! upload's metadata (EXIF, GPS, maker notes, comments) survives: the stored
//! file is new pixels written by our encoder.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::domain::FieldError;

/// The largest upload taken, in bytes (a phone's photo is 2-6 MB).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The most pixels an upload may declare (width x height): a decompression
/// bomb (a small file claiming a huge picture) is refused before decoding.
pub const MAX_PIXELS: u64 = 24_000_000;
/// The longest side of a stored photo, in pixels.
pub const MAX_SIDE: u32 = 1600;
/// How many photos one app server decodes at once (a per-process memory
/// cap, not a correctness guard); the others wait their turn.
pub const DECODING_AT_ONCE: usize = 1;

static DECODING: crate::at_once::AtOnce = crate::at_once::AtOnce::new(DECODING_AT_ONCE);

/// The memory the decoder may take for one photo, in bytes.
pub const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;
/// JPEG quality of the stored photo (0-100).
pub const QUALITY: u8 = 80;
/// Photos one report may carry.
pub const MAX_PHOTOS: usize = 3;

/// A photo as stored: a JPEG and its size in pixels.
#[derive(Debug, Clone)]
pub struct Cleaned {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn refused(key: &'static str) -> FieldError {
    FieldError::new("field.photo", key)
}

/// Decode, check, shrink and re-encode one uploaded photo (JPEG or PNG).
///
/// Errors (all on `field.photo`): `error.photo_too_large` over
/// `MAX_UPLOAD_BYTES`; `error.photo_format` for anything that is not a
/// readable JPEG or PNG; `error.photo_too_many_pixels` when the picture
/// declares more than `MAX_PIXELS`.
pub fn clean(bytes: &[u8]) -> Result<Cleaned, FieldError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(refused("error.photo_too_large").arg("mb", MAX_UPLOAD_BYTES / 1024 / 1024));
    }
    // One photo decoded at a time per app server: a few small files that
    // each unpack to a picture of many megapixels must not add up.
    let _turn = DECODING.turn();
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| refused("error.photo_format"))?;
    if !matches!(reader.format(), Some(ImageFormat::Jpeg | ImageFormat::Png)) {
        return Err(refused("error.photo_format"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    // A header past the decoder's limits is a picture too big, not a bad file.
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => {
            refused("error.photo_too_many_pixels").arg("mp", MAX_PIXELS / 1_000_000)
        }
        _ => refused("error.photo_format"),
    })?;
    // The header's size is checked before a single pixel is decoded.
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS || w == 0 || h == 0 {
        return Err(refused("error.photo_too_many_pixels").arg("mp", MAX_PIXELS / 1_000_000));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => {
            refused("error.photo_too_many_pixels").arg("mp", MAX_PIXELS / 1_000_000)
        }
        _ => refused("error.photo_format"),
    })?;
    img.apply_orientation(orientation);
    if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
        img = img.resize(MAX_SIDE, MAX_SIDE, image::imageops::FilterType::Triangle);
    }
    let rgb = img.to_rgb8();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, QUALITY)
        .encode_image(&rgb)
        .map_err(|_| refused("error.photo_format"))?;
    Ok(Cleaned {
        jpeg,
        width: rgb.width(),
        height: rgb.height(),
    })
}

/// Whether a JPEG carries an EXIF block (an APP1 segment starting
/// `Exif\0\0`) or an XMP one: what a stored photo must never have.
pub fn has_metadata(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        let body = &jpeg[(i + 4).min(jpeg.len())..(i + 2 + len).min(jpeg.len())];
        if marker == 0xE1
            && (body.starts_with(b"Exif\0") || body.starts_with(b"http://ns.adobe.com"))
        {
            return true;
        }
        i += 2 + len;
    }
    false
}

/// A JPEG with an EXIF block (holding GPS tags' name as text) put in after
/// its start: what a phone's camera sends. For tests.
pub fn with_exif(jpeg: &[u8]) -> Vec<u8> {
    let payload: &[u8] = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 36.65N GPSLongitude 117.12E";
    let len = (payload.len() + 2) as u16;
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A JPEG of `w` x `h` pixels in a gradient, for tests and the demo.
pub fn sample_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .expect("encode a sample");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in data {
            crc ^= u32::from(*b);
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

    #[test]
    fn exif_and_gps_are_gone_and_big_photos_shrink() {
        let sent = with_exif(&sample_jpeg(2400, 1200));
        assert!(has_metadata(&sent));
        assert!(clean(&sent).is_ok());
        let kept = clean(&sent).unwrap();
        assert!(!has_metadata(&kept.jpeg));
        assert!(!kept.jpeg.windows(3).any(|w| w == b"GPS"));
        assert_eq!((kept.width, kept.height), (1600, 800));
    }

    #[test]
    fn a_small_file_claiming_a_huge_picture_is_refused_before_decoding() {
        // A real 1x1 PNG whose header is made to say 30000 x 30000.
        let mut png = Vec::new();
        DynamicImage::new_rgb8(1, 1)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        // IHDR: 8 signature bytes, 4 length, 4 "IHDR", then width and height.
        png[16..20].copy_from_slice(&30_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&30_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = clean(&png).unwrap_err();
        assert_eq!(e.key, "error.photo_too_many_pixels");
    }

    #[test]
    fn only_pictures_are_taken() {
        assert_eq!(clean(b"not a photo").unwrap_err().key, "error.photo_format");
        assert_eq!(clean(b"GIF89a....").unwrap_err().key, "error.photo_format");
        let big = vec![0u8; MAX_UPLOAD_BYTES + 1];
        assert_eq!(clean(&big).unwrap_err().key, "error.photo_too_large");
    }
}
