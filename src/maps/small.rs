//! Small maps for the printed evaluation report (`GET /report/map.png`): the district, or one
//! subdistrict's bounding box padded, drawn by the server into a PNG of a requested size, with
//! no WebGL and no tile requests.
//!
//! Takes the dataset's streets and subdistricts, a coverage (the scenario's: its field and
//! analysis area) and, for the accessibility layer, an [`AccessMap`]; gives the PNG and where it
//! lies ([`View::bounds`]). Layers, bottom to top:
//! - paper-coloured background;
//! - the heatmap, opaque, inside the analysis area only: `coverage` is the category's walking
//!   time on the coverage heatmap's ramp where it is within the category's threshold (default
//!   walking profile) and [`BLIND_SPOT_RGBA`] beyond it or where nothing can be reached;
//!   `access` is the A_i classes of [`AccessMap`];
//! - streets in grey, as wide as the street's class is on the ground at this scale (never
//!   thinner than a hairline per class), minor ones first;
//! - every subdistrict outline, the chosen subdistrict's thicker;
//! - a scale bar (bottom left) and a north arrow (top right).
//!
//! The projection is Web Mercator with north up, as on the web map, so a small map and a
//! screenshot of the page line up. Pure: same input, same bytes.

use geo::BoundingRect;
use tiny_skia::{FillRule, LineCap, LineJoin, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};

use super::access::AccessMap;
use super::{BLIND_SPOT_RGBA, Error, text_dots, text_width};
use crate::area::AreaSource;
use crate::coverage::Coverage;
use crate::coverage::clip::in_spans;
use crate::coverage::raster::{sample_dist, time_ramp};
use crate::dataset::Dataset;
use crate::geom::{self, MercPoint};
use crate::taxonomy::CategoryId;

/// Largest width or height of a small map, pixels.
pub const MAX_SIDE_PX: u32 = 2000;
/// Smallest width or height, pixels.
pub const MIN_SIDE_PX: u32 = 16;

/// The background outside the heatmap.
pub const PAPER_RGB: [u8; 3] = [0xf6, 0xf5, 0xf1];
/// Streets.
pub const STREET_RGB: [u8; 3] = [0x80, 0x80, 0x80];
/// Subdistrict outlines.
const OUTLINE_RGB: [u8; 3] = [0x33, 0x33, 0x33];
/// The chosen subdistrict's outline, and the scale bar, arrow and labels.
const INK_RGB: [u8; 3] = [0x11, 0x11, 0x11];

/// Padding around the district or subdistrict, as a share of its larger side.
const PADDING_SHARE: f64 = 0.06;

/// What the heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Walking coverage, blind spots beyond the threshold.
    Coverage,
    /// 2SFCA accessibility A_i.
    Access,
}

impl Layer {
    pub fn parse(text: &str) -> Option<Layer> {
        match text {
            "coverage" => Some(Layer::Coverage),
            "access" => Some(Layer::Access),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Coverage => "coverage",
            Layer::Access => "access",
        }
    }
}

/// One small map.
#[derive(Debug, Clone, Copy)]
pub struct MapRequest {
    pub category: CategoryId,
    pub layer: Layer,
    /// Index of a subdistrict in the dataset; `None` for the whole district.
    pub subdistrict: Option<usize>,
    pub width: u32,
    pub height: u32,
}

/// Where an image lies: Web Mercator, north up.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Normalised Mercator of the image's top-left corner.
    left: f64,
    top: f64,
    /// Pixels per normalised Mercator unit.
    scale: f64,
    width: u32,
    height: u32,
}

impl View {
    /// The view of `request`'s subdistrict (its bounding box) or of the district (the analysis
    /// area, else the data's extent), padded and centred in `width × height`.
    pub fn new(dataset: &Dataset, coverage: &Coverage, request: &MapRequest) -> View {
        let bbox = request
            .subdistrict
            .and_then(|i| dataset.areas.get(i))
            .and_then(|a| a.polygon.bounding_rect())
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .unwrap_or_else(|| {
                if coverage.area().source == AreaSource::Empty {
                    dataset.bounds
                } else {
                    coverage.area().bbox
                }
            });
        let top_left = geom::lonlat_to_merc(bbox[0], bbox[3]);
        let bottom_right = geom::lonlat_to_merc(bbox[2], bbox[1]);
        // At least about 100 m across, so a single point still gives a readable map.
        let min_span = 2.5e-6;
        let span_x = (bottom_right.x - top_left.x).max(min_span);
        let span_y = (bottom_right.y - top_left.y).max(min_span);
        let pad = PADDING_SHARE * span_x.max(span_y);
        let (width, height) = (request.width, request.height);
        let scale =
            (f64::from(width) / (span_x + 2.0 * pad)).min(f64::from(height) / (span_y + 2.0 * pad));
        let centre = (
            (top_left.x + bottom_right.x) / 2.0,
            (top_left.y + bottom_right.y) / 2.0,
        );
        View {
            left: centre.0 - f64::from(width) / 2.0 / scale,
            top: centre.1 - f64::from(height) / 2.0 / scale,
            scale,
            width,
            height,
        }
    }

    /// `[west, south, east, north]` of the image's edges, WGS84 degrees.
    pub fn bounds(&self) -> [f64; 4] {
        let (west, north) = geom::merc_to_lonlat(MercPoint {
            x: self.left,
            y: self.top,
        });
        let (east, south) = geom::merc_to_lonlat(MercPoint {
            x: self.left + f64::from(self.width) / self.scale,
            y: self.top + f64::from(self.height) / self.scale,
        });
        [west, south, east, north]
    }

    /// Pixel position (fractional, y down) of a lon/lat.
    pub fn to_px(self, lon: f64, lat: f64) -> (f64, f64) {
        let p = geom::lonlat_to_merc(lon, lat);
        (
            (p.x - self.left) * self.scale,
            (p.y - self.top) * self.scale,
        )
    }

    /// lon/lat of a pixel position.
    fn to_lonlat(self, x: f64, y: f64) -> (f64, f64) {
        geom::merc_to_lonlat(MercPoint {
            x: self.left + x / self.scale,
            y: self.top + y / self.scale,
        })
    }

    /// Ground metres per pixel across the middle of the image.
    pub fn metres_per_px(&self) -> f64 {
        let (cx, cy) = (f64::from(self.width) / 2.0, f64::from(self.height) / 2.0);
        geom::haversine_m(self.to_lonlat(cx - 50.0, cy), self.to_lonlat(cx + 50.0, cy)) / 100.0
    }
}

/// Width of a street on the ground (metres) and the least it is drawn with (pixels), by class.
fn street_width(highway: &str) -> (f64, f32) {
    match highway {
        "motorway" | "motorway_link" | "trunk" | "trunk_link" => (28.0, 1.4),
        "primary" | "primary_link" => (22.0, 1.2),
        "secondary" | "secondary_link" => (18.0, 1.0),
        "tertiary" | "tertiary_link" => (14.0, 0.9),
        "service" => (6.0, 0.5),
        "footway" | "path" | "pedestrian" | "cycleway" | "steps" | "track" | "bridleway" => {
            (3.0, 0.4)
        }
        _ => (9.0, 0.6),
    }
}

/// Draws `request` as a PNG (RGB), with its view.
pub fn render(
    dataset: &Dataset,
    coverage: &Coverage,
    access: Option<&AccessMap>,
    request: &MapRequest,
) -> Result<(Vec<u8>, View), Error> {
    let (width, height) = (request.width, request.height);
    if !(MIN_SIDE_PX..=MAX_SIDE_PX).contains(&width)
        || !(MIN_SIDE_PX..=MAX_SIDE_PX).contains(&height)
    {
        return Err(Error::Size { width, height });
    }
    let view = View::new(dataset, coverage, request);
    let mut rgba = Vec::with_capacity(width as usize * height as usize * 4);
    for _ in 0..width as usize * height as usize {
        rgba.extend_from_slice(&[PAPER_RGB[0], PAPER_RGB[1], PAPER_RGB[2], 255]);
    }
    draw_heatmap(&mut rgba, &view, coverage, access, request);
    let size = tiny_skia::IntSize::from_wh(width, height).ok_or(Error::Size { width, height })?;
    let mut pixmap = Pixmap::from_vec(rgba, size).ok_or(Error::Size { width, height })?;
    draw_streets(&mut pixmap, &view, dataset);
    draw_outlines(&mut pixmap, &view, dataset, request.subdistrict);
    draw_scale_bar(&mut pixmap, &view);
    draw_north_arrow(&mut pixmap, &view);
    // Every pixel is opaque, so the premultiplied pixels are the colours.
    let rgb: Vec<u8> = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    Ok((encode_rgb(&rgb, width, height)?, view))
}

/// The heatmap, pixel by pixel (inside the analysis area and the grid only).
fn draw_heatmap(
    rgba: &mut [u8],
    view: &View,
    coverage: &Coverage,
    access: Option<&AccessMap>,
    request: &MapRequest,
) {
    let grid = &coverage.grid;
    if grid.n_cells() == 0 {
        return;
    }
    let lons: Vec<f64> = (0..view.width)
        .map(|i| view.to_lonlat(f64::from(i) + 0.5, 0.0).0)
        .collect();
    let lats: Vec<f64> = (0..view.height)
        .map(|j| view.to_lonlat(0.0, f64::from(j) + 0.5).1)
        .collect();
    let cols: Vec<f64> = (lons.iter())
        .map(|&lon| grid.grid_coords(lon, grid.frame.lat0).0)
        .collect();
    let rows: Vec<f64> = (lats.iter())
        .map(|&lat| grid.grid_coords(grid.frame.lon0, lat).1)
        .collect();
    let inside = |g: f64, n: usize| g >= -0.5 && g < n as f64 - 0.5;
    let category = request.category;
    let profile = coverage.params.default_profile;
    let field = coverage.field_m(category);
    let threshold_m = coverage.threshold_m(category, profile) as f32;
    let speed = coverage.profile(profile).speed_m_s;
    let ramp = time_ramp(&coverage.params.band_minutes, coverage.ramp_max_min());
    let far_m = (coverage.cutoff_m() + grid.cell_m) as f32;
    let edges = coverage.area_edges().band(lats[lats.len() - 1], lats[0]);
    let mut spans = Vec::new();
    for (py, &gy) in rows.iter().enumerate() {
        if !inside(gy, grid.n_rows) {
            continue;
        }
        edges.spans(lats[py], &mut spans);
        for (px, &gx) in cols.iter().enumerate() {
            if !inside(gx, grid.n_cols) || !in_spans(&spans, lons[px]) {
                continue;
            }
            let colour = match (request.layer, access) {
                (Layer::Access, Some(access)) => match access.class_at(coverage, gx, gy) {
                    Some(class) => access.colour(class),
                    None => continue,
                },
                (Layer::Access, None) => continue,
                (Layer::Coverage, _) => match sample_dist(grid, field, gx, gy, far_m) {
                    Some(d) if d <= threshold_m => {
                        let minute = (f64::from(d) / speed / 60.0).floor().max(0.0) as usize;
                        ramp[minute.min(ramp.len() - 1)]
                    }
                    _ => BLIND_SPOT_RGBA,
                },
            };
            let at = (py * view.width as usize + px) * 4;
            rgba[at..at + 3].copy_from_slice(&colour[..3]);
        }
    }
}

fn paint(rgb: [u8; 3], alpha: u8) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color_rgba8(rgb[0], rgb[1], rgb[2], alpha);
    paint.anti_alias = true;
    paint
}

fn round_stroke(width: f32) -> Stroke {
    Stroke {
        width,
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    }
}

/// A polyline in pixels; `None` with fewer than two points.
fn polyline(view: &View, coords: impl IntoIterator<Item = (f64, f64)>) -> Option<tiny_skia::Path> {
    let mut builder = PathBuilder::new();
    for (i, (lon, lat)) in coords.into_iter().enumerate() {
        let (x, y) = view.to_px(lon, lat);
        if i == 0 {
            builder.move_to(x as f32, y as f32);
        } else {
            builder.line_to(x as f32, y as f32);
        }
    }
    builder.finish()
}

fn draw_streets(pixmap: &mut Pixmap, view: &View, dataset: &Dataset) {
    let [west, south, east, north] = view.bounds();
    let metres_per_px = view.metres_per_px();
    let mut visible: Vec<(f32, &crate::dataset::Road)> = dataset
        .roads
        .iter()
        .filter(|road| {
            let (mut w, mut s, mut e, mut n) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for &(lon, lat) in &road.coords {
                (w, s, e, n) = (w.min(lon), s.min(lat), e.max(lon), n.max(lat));
            }
            w <= east && e >= west && s <= north && n >= south
        })
        .map(|road| {
            let (metres, least_px) = street_width(&road.highway);
            let px = ((metres / metres_per_px) as f32).clamp(least_px, 6.0);
            (px, road)
        })
        .collect();
    // Minor streets first, so main roads run over them.
    visible.sort_by(|a, b| a.0.total_cmp(&b.0));
    let paint = paint(STREET_RGB, 255);
    for (px, road) in visible {
        if let Some(path) = polyline(view, road.coords.iter().copied()) {
            pixmap.stroke_path(
                &path,
                &paint,
                &round_stroke(px),
                Transform::identity(),
                None,
            );
        }
    }
}

fn draw_outlines(pixmap: &mut Pixmap, view: &View, dataset: &Dataset, chosen: Option<usize>) {
    let mut rings = |index: usize, rgb: [u8; 3], width: f32| {
        let paint = paint(rgb, 255);
        for polygon in &dataset.areas[index].polygon.0 {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                if let Some(path) = polyline(view, ring.0.iter().map(|c| (c.x, c.y))) {
                    pixmap.stroke_path(
                        &path,
                        &paint,
                        &round_stroke(width),
                        Transform::identity(),
                        None,
                    );
                }
            }
        }
    };
    for index in (0..dataset.areas.len()).filter(|&i| Some(i) != chosen) {
        rings(index, OUTLINE_RGB, 1.2);
    }
    if let Some(index) = chosen.filter(|&i| i < dataset.areas.len()) {
        rings(index, INK_RGB, 2.6);
    }
}

fn fill_rect(pixmap: &mut Pixmap, x: f32, y: f32, w: f32, h: f32, paint: &Paint) {
    if let Some(rect) = Rect::from_xywh(x, y, w, h) {
        pixmap.fill_rect(rect, paint, Transform::identity(), None);
    }
}

fn draw_text(pixmap: &mut Pixmap, text: &str, x: u32, y: u32, scale: u32) {
    let ink = paint(INK_RGB, 255);
    text_dots(text, x, y, scale, |dx, dy| {
        fill_rect(
            pixmap,
            dx as f32,
            dy as f32,
            scale as f32,
            scale as f32,
            &ink,
        );
    });
}

/// The longest round length (1, 2 or 5 × a power of ten metres) that fits in a quarter of the
/// width, and its label.
fn scale_length(metres_per_px: f64, width: u32) -> (f64, String) {
    let room_m = metres_per_px * f64::from(width) / 4.0;
    let mut best = 1.0;
    for exponent in 0..7 {
        for step in [1.0, 2.0, 5.0] {
            let length = step * 10f64.powi(exponent);
            if length <= room_m {
                best = length;
            }
        }
    }
    let label = if best >= 1000.0 {
        format!("{} km", super::label_number(best / 1000.0, 3))
    } else {
        format!("{best} m")
    };
    (best, label)
}

fn draw_scale_bar(pixmap: &mut Pixmap, view: &View) {
    let metres_per_px = view.metres_per_px();
    if !metres_per_px.is_finite() || metres_per_px <= 0.0 || view.width < 120 || view.height < 60 {
        return;
    }
    let (metres, label) = scale_length(metres_per_px, view.width);
    let bar_px = (metres / metres_per_px) as f32;
    let text_scale = 2;
    let label_w = text_width(&label, text_scale) as f32;
    let (margin, pad) = (8.0f32, 5.0f32);
    let box_w = bar_px.max(label_w) + 2.0 * pad;
    let box_h = 10.0 + 5.0 + 8.0 + 2.0 * pad;
    let (x0, y0) = (margin, view.height as f32 - margin - box_h);
    fill_rect(pixmap, x0, y0, box_w, box_h, &paint([255, 255, 255], 215));
    draw_text(
        pixmap,
        &label,
        (x0 + pad) as u32,
        (y0 + pad) as u32,
        text_scale,
    );
    let ink = paint(INK_RGB, 255);
    let bar_y = y0 + pad + 10.0 + 5.0;
    fill_rect(pixmap, x0 + pad, bar_y + 4.0, bar_px, 3.0, &ink);
    fill_rect(pixmap, x0 + pad, bar_y, 2.0, 8.0, &ink);
    fill_rect(pixmap, x0 + pad + bar_px - 2.0, bar_y, 2.0, 8.0, &ink);
}

fn draw_north_arrow(pixmap: &mut Pixmap, view: &View) {
    if view.width < 120 || view.height < 60 {
        return;
    }
    let (w, h) = (18.0f32, 34.0f32);
    let (x0, y0) = (view.width as f32 - 8.0 - w, 8.0f32);
    fill_rect(pixmap, x0, y0, w, h, &paint([255, 255, 255], 215));
    draw_text(pixmap, "N", (x0 + 5.0) as u32, (y0 + 3.0) as u32, 2);
    let mut arrow = PathBuilder::new();
    arrow.move_to(x0 + w / 2.0, y0 + 16.0);
    arrow.line_to(x0 + w - 4.0, y0 + h - 3.0);
    arrow.line_to(x0 + w / 2.0, y0 + h - 8.0);
    arrow.line_to(x0 + 4.0, y0 + h - 3.0);
    arrow.close();
    if let Some(path) = arrow.finish() {
        pixmap.fill_path(
            &path,
            &paint(INK_RGB, 255),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

/// An RGB image as PNG.
pub(crate) fn encode_rgb(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .map_err(|e| Error::Encode(e.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|e| Error::Encode(e.to_string()))?;
    writer.finish().map_err(|e| Error::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_bar_lengths_are_round() {
        assert_eq!(scale_length(2.0, 480), (200.0, "200 m".to_owned()));
        assert_eq!(scale_length(20.0, 480), (2000.0, "2 km".to_owned()));
        assert_eq!(scale_length(5.0, 480), (500.0, "500 m".to_owned()));
    }
}
