//! Maps the server draws itself, for the planners' evaluation: the 2SFCA accessibility A_i as
//! heatmap tiles ([`access`]) and small printable maps of a district or subdistrict
//! ([`small`]: heatmap, streets, outlines, scale bar), both PNG.
//!
//! Takes a [`crate::coverage::Coverage`] (its grid, fields and analysis area), the
//! [`crate::dataset::Dataset`]'s context layers and a [`crate::service_load::ServiceLoad`]; gives
//! PNG bytes. Pure functions of their inputs, like the coverage heatmaps: same data, same bytes.

pub mod access;
pub mod small;

/// Colour of a blind spot: on the small map's coverage layer a place beyond the category's
/// walking threshold, on the accessibility layer a residential place with A_i = 0 (no facility
/// within reach). A red outside the viridis ramps of the heatmaps, so it cannot be taken for a
/// value.
pub const BLIND_SPOT_RGBA: [u8; 4] = [0xd6, 0x27, 0x28, 190];

/// Why a map could not be drawn.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("a small map must be 16 to {max} pixels wide and high, not {width} × {height}", max = small::MAX_SIDE_PX)]
    Size { width: u32, height: u32 },
    #[error("encoding a map image failed: {0}")]
    Encode(String),
}

impl From<crate::coverage::Error> for Error {
    fn from(e: crate::coverage::Error) -> Error {
        Error::Encode(e.to_string())
    }
}

/// A glyph of the small pixel font: its width and five rows, bits from the left.
type Glyph = (u8, [u8; 5]);

/// The few characters map labels need (scale bar, north arrow, legend breaks).
fn glyph(ch: char) -> Option<Glyph> {
    Some(match ch {
        '0' => (3, [7, 5, 5, 5, 7]),
        '1' => (3, [2, 6, 2, 2, 7]),
        '2' => (3, [7, 1, 7, 4, 7]),
        '3' => (3, [7, 1, 7, 1, 7]),
        '4' => (3, [5, 5, 7, 1, 1]),
        '5' => (3, [7, 4, 7, 1, 7]),
        '6' => (3, [7, 4, 7, 5, 7]),
        '7' => (3, [7, 1, 1, 1, 1]),
        '8' => (3, [7, 5, 7, 5, 7]),
        '9' => (3, [7, 5, 7, 1, 7]),
        '.' => (1, [0, 0, 0, 0, 1]),
        'k' => (3, [4, 5, 6, 5, 5]),
        'm' => (5, [0, 0b11010, 0b10101, 0b10101, 0b10101]),
        'N' => (4, [0b1001, 0b1101, 0b1011, 0b1001, 0b1001]),
        ' ' => (2, [0; 5]),
        _ => return None,
    })
}

/// Width in pixels of `text` in the pixel font at `scale` pixels per font pixel.
pub(crate) fn text_width(text: &str, scale: u32) -> u32 {
    let units: u32 = text
        .chars()
        .filter_map(glyph)
        .map(|(w, _)| u32::from(w) + 1)
        .sum();
    units.saturating_sub(1) * scale
}

/// Calls `dot(x, y)` for every font pixel of `text` (top-left at `(x, y)`, `scale` pixels per
/// font pixel; characters the font lacks are skipped).
pub(crate) fn text_dots(text: &str, x: u32, y: u32, scale: u32, mut dot: impl FnMut(u32, u32)) {
    let mut left = x;
    for (width, rows) in text.chars().filter_map(glyph) {
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..u32::from(width) {
                if bits & (1 << (u32::from(width) - 1 - col)) != 0 {
                    dot(left + col * scale, y + row as u32 * scale);
                }
            }
        }
        left += (u32::from(width) + 1) * scale;
    }
}

/// A number for a label: at most `digits` significant digits, no exponent, no trailing zeros.
pub fn label_number(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return "0".to_owned();
    }
    let decimals = (digits - 1 - value.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_plain() {
        assert_eq!(label_number(0.0123456, 2), "0.012");
        assert_eq!(label_number(1500.0, 2), "1500");
        assert_eq!(label_number(2.0, 2), "2");
        assert_eq!(label_number(0.5, 2), "0.5");
        assert_eq!(text_width("500 m", 1), 3 + 1 + 3 + 1 + 3 + 1 + 2 + 1 + 5);
        let mut dots = 0;
        text_dots("1", 0, 0, 2, |_, _| dots += 1);
        assert_eq!(dots, 8);
    }
}
