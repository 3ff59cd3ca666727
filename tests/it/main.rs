//! Integration tests: the real server on 127.0.0.1, spoken to over HTTP. One binary, one module
//! per area.

mod admin;
mod archive_support;
mod archives;
mod coverage;
mod decoded_tile;
mod edge;
mod evaluation;
mod feedback;
mod feedback_postgres;
mod grid_world;
mod ingest;
mod maps;
mod osm;
mod params;
mod pyramid;
mod report;
mod road_classes;
mod search;
mod service_load;
mod sources;
mod support;
mod tiles;
mod time_zone;
mod web;
