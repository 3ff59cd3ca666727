//! The basemap's street classes: `[basemap.road_classes]` → [`RoadClasses`], the one place that
//! says which `highway` values (OSM highway tags, or a roads file's class column) form each
//! class, from which zoom a class is drawn, and how the bundled style draws it.
//!
//! `tiles::basemap` asks it for a street's first zoom ([`RoadClasses::minzoom`]);
//! `http::meta` has it write the road layers of the served style ([`RoadClasses::style`]):
//! their filters and colours, so a configured class shows without editing the style file.
//! Streets keep their `highway` value in the tiles; the style matches on it.

use std::collections::HashMap;

use serde::Deserialize;

/// One class as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoadClassConfig {
    /// `highway` values in this class; `"*"`: every value no other class lists.
    pub highways: Vec<String>,
    /// First zoom at which streets of this class are in basemap tiles.
    pub minzoom: u8,
    /// The style layer drawing the class: `major` (`roads-major`, wide, from zoom 9) or `minor`
    /// (`roads-minor`, thin, from zoom 12).
    pub layer: RoadLayer,
    /// Line colour in the style, `#rrggbb`.
    pub color: String,
}

/// The bundled style's two road layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoadLayer {
    Major,
    Minor,
}

impl RoadLayer {
    const ALL: [RoadLayer; 2] = [RoadLayer::Major, RoadLayer::Minor];

    /// The style layer's id.
    pub fn style_id(self) -> &'static str {
        match self {
            RoadLayer::Major => "roads-major",
            RoadLayer::Minor => "roads-minor",
        }
    }
}

/// The value that puts a class in charge of every `highway` value no class lists.
pub const OTHER_HIGHWAYS: &str = "*";

/// The configured classes, checked, with a `highway` value → class lookup.
#[derive(Debug, Clone, Default)]
pub struct RoadClasses {
    /// By id (the configuration's table order is not kept by TOML).
    classes: Vec<(String, RoadClassConfig)>,
    by_highway: HashMap<String, usize>,
    /// The class listing `"*"`.
    other: Option<usize>,
}

impl RoadClasses {
    /// Checks `[basemap.road_classes]`; the error names the class and key.
    pub fn new<'a>(
        classes: impl IntoIterator<Item = (&'a String, &'a RoadClassConfig)>,
    ) -> Result<RoadClasses, String> {
        let mut classes: Vec<(String, RoadClassConfig)> = classes
            .into_iter()
            .map(|(id, class)| (id.clone(), class.clone()))
            .collect();
        classes.sort_by(|a, b| a.0.cmp(&b.0));
        let mut by_highway = HashMap::new();
        let mut other = None;
        for (idx, (id, class)) in classes.iter().enumerate() {
            let key = format!("basemap.road_classes.{id}");
            if !crate::taxonomy::is_hex_color(&class.color) {
                return Err(format!(
                    "{key}.color is `{}`; expected #rrggbb",
                    class.color
                ));
            }
            if class.minzoom > crate::geom::MAX_ZOOM {
                return Err(format!(
                    "{key}.minzoom ({}) must be at most {}",
                    class.minzoom,
                    crate::geom::MAX_ZOOM
                ));
            }
            for highway in &class.highways {
                let highway = highway.trim();
                let earlier = if highway == OTHER_HIGHWAYS {
                    other.replace(idx)
                } else if highway.is_empty() {
                    return Err(format!("{key}.highways has an empty value"));
                } else {
                    by_highway.insert(highway.to_owned(), idx)
                };
                if let Some(earlier) = earlier.filter(|&e| e != idx) {
                    return Err(format!(
                        "`{highway}` is in two road classes, basemap.road_classes.{} and {id}; keep it in one",
                        classes[earlier].0
                    ));
                }
            }
        }
        Ok(RoadClasses {
            classes,
            by_highway,
            other,
        })
    }

    fn class_of(&self, highway: &str) -> Option<&RoadClassConfig> {
        let idx = self.by_highway.get(highway).copied().or(self.other)?;
        Some(&self.classes[idx].1)
    }

    /// First zoom at which a street with this `highway` value is drawn; `u8::MAX` (never) when
    /// no class takes it.
    pub fn minzoom(&self, highway: &str) -> u8 {
        self.class_of(highway)
            .map_or(u8::MAX, |class| class.minzoom)
    }

    /// Writes the filter and line colour of the style's road layers (`roads-major`,
    /// `roads-minor`) from the classes; other layers are left alone.
    pub fn style(&self, style: &mut serde_json::Value) {
        let Some(layers) = style["layers"].as_array_mut() else {
            return;
        };
        for road_layer in RoadLayer::ALL {
            let Some(layer) = layers.iter_mut().find(|l| l["id"] == road_layer.style_id()) else {
                continue;
            };
            layer["filter"] = self.filter(road_layer);
            layer["paint"]["line-color"] = self.color(road_layer);
        }
    }

    /// The highway values listed by classes drawn on `layer` (or on any other layer).
    fn listed(&self, on: impl Fn(RoadLayer) -> bool) -> Vec<&str> {
        let mut values: Vec<&str> = (self.by_highway.iter())
            .filter(|&(_, &idx)| on(self.classes[idx].1.layer))
            .map(|(highway, _)| highway.as_str())
            .collect();
        values.sort_unstable();
        values
    }

    fn filter(&self, layer: RoadLayer) -> serde_json::Value {
        let highway = serde_json::json!(["get", "highway"]);
        let takes_other = self.other.is_some_and(|o| self.classes[o].1.layer == layer);
        if takes_other {
            // Everything but what the other layers draw, so unlisted values show here.
            let elsewhere = self.listed(|l| l != layer);
            serde_json::json!(["!", ["in", highway, ["literal", elsewhere]]])
        } else {
            serde_json::json!(["in", highway, ["literal", self.listed(|l| l == layer)]])
        }
    }

    fn color(&self, layer: RoadLayer) -> serde_json::Value {
        let on_layer = || self.classes.iter().filter(|(_, c)| c.layer == layer);
        let fallback = match self.other.map(|o| &self.classes[o].1) {
            Some(other) if other.layer == layer => other.color.clone(),
            _ => on_layer()
                .next()
                .map_or_else(|| "#ffffff".to_owned(), |(_, c)| c.color.clone()),
        };
        let mut expression = vec![
            serde_json::json!("match"),
            serde_json::json!(["get", "highway"]),
        ];
        for (_, class) in on_layer() {
            let mut values: Vec<&str> = (class.highways.iter())
                .map(|h| h.trim())
                .filter(|h| *h != OTHER_HIGHWAYS)
                .collect();
            values.sort_unstable();
            values.dedup();
            if !values.is_empty() {
                expression.push(serde_json::json!(values));
                expression.push(class.color.clone().into());
            }
        }
        if expression.len() == 2 {
            // A match needs at least one label; a layer drawing only "*" has one colour.
            return fallback.into();
        }
        expression.push(fallback.into());
        serde_json::Value::Array(expression)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn classes(extra: &str) -> Result<RoadClasses, String> {
        let config =
            Config::from_toml_str(extra, std::path::Path::new(".")).map_err(|e| e.to_string())?;
        Ok(config.basemap.roads.clone())
    }

    #[test]
    fn default_classes_keep_the_zooms_streets_had() {
        let classes = classes("").unwrap();
        for (highway, zoom) in [
            ("motorway", 9),
            ("trunk", 9),
            ("primary", 9),
            ("secondary", 11),
            ("tertiary", 12),
            ("residential", 13),
            ("service", 13),
            ("footway", 14),
            ("steps", 14),
            ("track", 14),
        ] {
            assert_eq!(classes.minzoom(highway), zoom, "{highway}");
        }
    }

    #[test]
    fn an_added_class_takes_its_values() {
        let classes = classes(
            "[basemap.road_classes.busway]\nhighways = [\"busway\"]\nminzoom = 10\nlayer = \"major\"\ncolor = \"#aa3377\"\n",
        )
        .unwrap();
        assert_eq!(classes.minzoom("busway"), 10);
        assert_eq!(classes.minzoom("residential"), 13);
        let mut style = serde_json::json!({ "layers": [
            { "id": "roads-minor", "paint": {} },
            { "id": "roads-major", "paint": {} },
        ]});
        classes.style(&mut style);
        let major = &style["layers"][1];
        assert!(
            major["filter"][2][1]
                .as_array()
                .unwrap()
                .contains(&"busway".into())
        );
        let colors = major["paint"]["line-color"].to_string();
        assert!(colors.contains(r##"["busway"],"#aa3377""##), "{colors}");
        // The minor layer draws everything the major one does not, so not busways.
        let minor = &style["layers"][0];
        assert_eq!(minor["filter"][0], "!");
        assert!(
            minor["filter"][1][2][1]
                .as_array()
                .unwrap()
                .contains(&"busway".into())
        );
    }

    #[test]
    fn a_value_in_two_classes_or_a_bad_colour_is_an_error() {
        let twice = classes(
            "[basemap.road_classes.busway]\nhighways = [\"primary\"]\nminzoom = 10\nlayer = \"major\"\ncolor = \"#aa3377\"\n",
        )
        .unwrap_err();
        assert!(
            twice.contains("`primary` is in two road classes"),
            "{twice}"
        );
        let colour = classes("[basemap.road_classes.path]\ncolor = \"grey\"\n").unwrap_err();
        assert!(
            colour.contains("basemap.road_classes.path.color"),
            "{colour}"
        );
    }
}
