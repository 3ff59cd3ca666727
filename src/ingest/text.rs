//! Text encodings of data files: an encoding name from the config or a Shapefile's `.cpg` → an
//! `encoding_rs` encoding, detection of UTF-8 versus GBK from the bytes themselves, and decoding
//! of one field's bytes to a `String`.
//!
//! District offices export CSVs and `.dbf`s from Excel and ArcGIS on Chinese Windows, which write
//! GBK (code page 936) unless told otherwise, and label nothing. Detection therefore asks one
//! question: do the bytes read as UTF-8? GBK text almost never does (its trail bytes rarely follow
//! a UTF-8 lead byte), while UTF-8 cut short at a fixed field width (a `.dbf` column) fails only at
//! the cut, so a few failures among many valid multi-byte characters still mean UTF-8. (Chinese
//! GBK text forms a valid UTF-8 character by chance about once in ten characters, and fails
//! otherwise: its ratio of valid to invalid is far below the 2 : 1 taken as UTF-8.)

use std::io::Read;

use encoding_rs::Encoding;

/// Encoding names accepted, for messages.
pub const EXAMPLES: &str = "utf-8, gbk (also gb2312, 936, cp936), gb18030, big5";

/// The encoding a name stands for: WHATWG labels (`utf-8`, `gbk`, `gb2312`, `gb18030`, `big5`,
/// `windows-1252`, …) and the Windows code page spellings `.cpg` files use (`936`, `CP936`,
/// `ANSI 936`, `65001`). Only encodings in which ASCII bytes mean ASCII are accepted, because
/// separators and quotes are found byte by byte.
pub fn encoding_for_name(name: &str) -> Option<&'static Encoding> {
    let name = name.trim().trim_start_matches('\u{feff}').trim();
    let lower = name.to_ascii_lowercase();
    let code_page = ["ansi ", "ansi_", "windows-", "cp", "ms", "ibm"]
        .iter()
        .find_map(|prefix| lower.strip_prefix(prefix))
        .unwrap_or(&lower)
        .trim();
    let by_code_page = match code_page {
        "936" => Some(encoding_rs::GBK),
        "54936" => Some(encoding_rs::GB18030),
        "950" => Some(encoding_rs::BIG5),
        "65001" => Some(encoding_rs::UTF_8),
        "932" => Some(encoding_rs::SHIFT_JIS),
        "949" => Some(encoding_rs::EUC_KR),
        digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Encoding::for_label(format!("windows-{digits}").as_bytes())
        }
        _ => None,
    };
    let encoding = by_code_page.or_else(|| Encoding::for_label(lower.as_bytes()))?;
    encoding.is_ascii_compatible().then_some(encoding)
}

/// Counts, over a byte stream fed in pieces, the multi-byte UTF-8 characters and the byte
/// sequences that are not UTF-8.
#[derive(Default)]
pub struct Utf8Probe {
    n_multibyte: u64,
    n_invalid: u64,
    /// The start of a character cut by the end of the previous piece.
    carry: Vec<u8>,
}

impl Utf8Probe {
    pub fn feed(&mut self, piece: &[u8]) {
        if self.carry.is_empty() {
            self.scan(piece);
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(piece);
            self.scan(&joined);
        }
    }

    fn scan(&mut self, mut bytes: &[u8]) {
        loop {
            match std::str::from_utf8(bytes) {
                Ok(valid) => {
                    self.n_multibyte += count_multibyte(valid.as_bytes());
                    return;
                }
                Err(e) => {
                    let (valid, rest) = bytes.split_at(e.valid_up_to());
                    self.n_multibyte += count_multibyte(valid);
                    match e.error_len() {
                        Some(n) => {
                            self.n_invalid += 1;
                            bytes = &rest[n..];
                        }
                        None => {
                            self.carry = rest.to_vec();
                            return;
                        }
                    }
                }
            }
        }
    }

    /// UTF-8 when the bytes are UTF-8 but for rare cut characters, else GBK.
    pub fn guess(&self) -> &'static Encoding {
        let n_invalid = self.n_invalid + u64::from(!self.carry.is_empty());
        if n_invalid == 0 || self.n_multibyte >= 2 * n_invalid {
            encoding_rs::UTF_8
        } else {
            encoding_rs::GBK
        }
    }
}

fn count_multibyte(valid_utf8: &[u8]) -> u64 {
    // Every multi-byte character has exactly one lead byte (0b11xxxxxx).
    valid_utf8.iter().filter(|&&b| b >= 0xC0).count() as u64
}

/// Reads `source` to the end and guesses its encoding (see [`Utf8Probe::guess`]).
pub fn detect(mut source: impl Read) -> std::io::Result<&'static Encoding> {
    let mut probe = Utf8Probe::default();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            return Ok(probe.guess());
        }
        probe.feed(&buf[..n]);
    }
}

/// One field's bytes as text; bytes that are not valid in `encoding` become U+FFFD.
pub fn decode(encoding: &'static Encoding, bytes: &[u8]) -> String {
    if encoding == encoding_rs::UTF_8 {
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        }
    } else {
        encoding.decode_without_bom_handling(bytes).0.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(text: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    #[test]
    fn names_from_configs_and_cpg_files() {
        for name in ["utf-8", "UTF8", "65001", " UTF-8\r\n"] {
            assert_eq!(encoding_for_name(name), Some(encoding_rs::UTF_8), "{name}");
        }
        for name in [
            "gbk",
            "GBK",
            "936",
            "CP936",
            "cp936",
            "ANSI 936",
            "gb2312",
            "GB_2312-80",
        ] {
            assert_eq!(encoding_for_name(name), Some(encoding_rs::GBK), "{name}");
        }
        assert_eq!(encoding_for_name("gb18030"), Some(encoding_rs::GB18030));
        assert_eq!(encoding_for_name("big5"), Some(encoding_rs::BIG5));
        assert_eq!(encoding_for_name("1252"), Some(encoding_rs::WINDOWS_1252));
        for name in ["klingon", "", "utf-16le", "12345"] {
            assert_eq!(encoding_for_name(name), None, "{name}");
        }
    }

    #[test]
    fn detects_utf8_and_gbk() {
        let text = "名称,经度\n长宁区社区卫生服务中心,121.42\n天山公园,121.40\n";
        assert_eq!(detect(text.as_bytes()).unwrap(), encoding_rs::UTF_8);
        assert_eq!(detect(&gbk(text)[..]).unwrap(), encoding_rs::GBK);
        assert_eq!(
            detect(&b"plain,ascii\n1,2\n"[..]).unwrap(),
            encoding_rs::UTF_8
        );
    }

    #[test]
    fn a_character_split_between_pieces_is_still_utf8() {
        let bytes = "上海市长宁区".as_bytes();
        let mut probe = Utf8Probe::default();
        probe.feed(&bytes[..4]);
        probe.feed(&bytes[4..]);
        assert_eq!(probe.guess(), encoding_rs::UTF_8);
    }

    #[test]
    fn utf8_cut_at_a_field_width_is_still_utf8() {
        // A .dbf column 10 bytes wide holding 4 Chinese characters keeps 3 and a third.
        let mut bytes = Vec::new();
        for _ in 0..5 {
            bytes.extend_from_slice(&"幼儿园名".as_bytes()[..10]);
            bytes.extend_from_slice(b"  ");
        }
        assert_eq!(detect(&bytes[..]).unwrap(), encoding_rs::UTF_8);
    }

    #[test]
    fn decodes_fields() {
        assert_eq!(decode(encoding_rs::GBK, &gbk("江苏路街道")), "江苏路街道");
        assert_eq!(decode(encoding_rs::UTF_8, "江苏路".as_bytes()), "江苏路");
        assert_eq!(decode(encoding_rs::UTF_8, b"a\xffb"), "a\u{fffd}b");
    }
}
