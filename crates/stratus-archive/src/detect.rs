//! Format detection from magic bytes. Names and content types are never consulted: they are
//! whatever the uploader typed.

use crate::Format;

/// The format the bytes announce, or `None`. gzip and bzip2 streams are taken to hold a tar
/// archive (unpacking says so if they do not).
pub fn detect(bytes: &[u8]) -> Option<Format> {
    const ZIP_MAGICS: [&[u8]; 3] = [
        b"PK\x03\x04", // local file header: every non-empty zip
        b"PK\x05\x06", // end of central directory: an empty zip
        b"PK\x07\x08", // spanning marker written by some tools before the first header
    ];
    if ZIP_MAGICS.iter().any(|magic| bytes.starts_with(magic)) {
        return Some(Format::Zip);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(Format::TarGz);
    }
    if bytes.starts_with(b"BZh") && matches!(bytes.get(3), Some(b'1'..=b'9')) {
        return Some(Format::TarBz2);
    }
    // The magic alone suffices, so a tar cut inside its first block is reported as corrupt.
    if bytes.get(257..262) == Some(b"ustar") || is_tar_header(bytes) {
        return Some(Format::Tar);
    }
    None
}

/// Size of a tar header block.
pub(crate) const BLOCK: usize = 512;

/// Whether a 512-byte block is a tar header: POSIX/GNU `ustar` magic, or (for pre-POSIX tars)
/// a checksum field that matches the block.
pub(crate) fn is_tar_header(block: &[u8]) -> bool {
    let Some(block) = block.get(..BLOCK) else {
        return false;
    };
    if &block[257..262] == b"ustar" {
        return true;
    }
    let Some(recorded) = parse_octal(&block[148..156]) else {
        return false;
    };
    let unsigned: u64 = block
        .iter()
        .enumerate()
        .map(|(index, byte)| match index {
            148..156 => u64::from(b' '),
            _ => u64::from(*byte),
        })
        .sum();
    let signed: i64 = block
        .iter()
        .enumerate()
        .map(|(index, byte)| match index {
            148..156 => i64::from(b' '),
            _ => i64::from(*byte as i8),
        })
        .sum();
    recorded == unsigned || i64::try_from(recorded).is_ok_and(|recorded| recorded == signed)
}

/// An octal header field: digits, padded with spaces or NULs on either side.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let digits = field
        .iter()
        .skip_while(|byte| **byte == b' ')
        .take_while(|byte| byte.is_ascii_digit());
    let mut value: u64 = 0;
    let mut seen = false;
    for digit in digits {
        if *digit > b'7' {
            return None;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(digit - b'0'))?;
        seen = true;
    }
    seen.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(detect(b"PK\x03\x04rest"), Some(Format::Zip));
        assert_eq!(detect(b"PK\x05\x06"), Some(Format::Zip));
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Some(Format::TarGz));
        assert_eq!(detect(b"BZh91AY"), Some(Format::TarBz2));
        assert_eq!(detect(b"BZh0"), None);
        assert_eq!(detect(b""), None);
        assert_eq!(detect(&[0u8; 1024]), None);
        assert_eq!(
            detect(b"tosca_definitions_version: cloudify_dsl_1_3\n"),
            None
        );
    }

    #[test]
    fn pre_posix_tar_headers_are_recognized_by_checksum() {
        let mut block = [0u8; BLOCK];
        block[..4].copy_from_slice(b"file");
        block[100..107].copy_from_slice(b"0000644");
        block[124..135].copy_from_slice(b"00000000000");
        let sum: u32 = block.iter().map(|byte| u32::from(*byte)).sum::<u32>() + 8 * 32;
        let field = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(field.as_bytes());
        assert_eq!(detect(&block), Some(Format::Tar));
        block[0] = b'g';
        assert_eq!(detect(&block), None);
    }
}
