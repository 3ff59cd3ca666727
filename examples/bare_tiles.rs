//! The ceiling for cached tiles (`scripts/compare.sh`): a bare axum server holding gzip tile
//! bytes in a `HashMap` and answering `/tiles/facilities/{z}/{x}/{y}.mvt` with them, with no
//! layers at all. Reads `DIR/{z}/{x}/{y}.mvt.gz` as written by the comparison script.
//!
//! cargo run --release --example bare_tiles -- DIR 127.0.0.1:PORT

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

type Tiles = Arc<HashMap<(u32, u32, String), Bytes>>;

async fn tile(State(tiles): State<Tiles>, Path((z, x, y)): Path<(u32, u32, String)>) -> Response {
    match tiles.get(&(z, x, y)) {
        Some(body) => (
            [
                (header::CONTENT_TYPE, "application/vnd.mapbox-vector-tile"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            body.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, listen] = args.as_slice() else {
        anyhow::bail!("usage: bare_tiles DIR HOST:PORT");
    };
    let mut tiles = HashMap::new();
    for z_entry in std::fs::read_dir(dir).with_context(|| format!("reading {dir}"))? {
        let z_path = z_entry?.path();
        let z: u32 = z_path.file_name().unwrap().to_string_lossy().parse()?;
        for x_entry in std::fs::read_dir(&z_path)? {
            let x_path = x_entry?.path();
            let x: u32 = x_path.file_name().unwrap().to_string_lossy().parse()?;
            for y_entry in std::fs::read_dir(&x_path)? {
                let y_path = y_entry?.path();
                let name = y_path.file_name().unwrap().to_string_lossy().into_owned();
                let y = name.trim_end_matches(".gz").to_owned();
                tiles.insert((z, x, y), Bytes::from(std::fs::read(&y_path)?));
            }
        }
    }
    eprintln!("holding {} tiles", tiles.len());
    let app = axum::Router::new()
        .route("/tiles/facilities/{z}/{x}/{y}", axum::routing::get(tile))
        .with_state(Arc::new(tiles));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}
