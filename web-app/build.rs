//! Points the embedder at `frontend/dist` (the Vite build), or, where the web app was not built, at a one-page
//! stand-in that says how to build it: `cargo build` alone still works, and a binary without the app says so.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = manifest.join("frontend").join("dist");
    println!("cargo:rerun-if-changed=frontend/dist");
    let folder = if dist.join("index.html").is_file() {
        println!("cargo:rustc-env=MARQUEE_WEB_APP_BUILT=1");
        dist
    } else {
        println!(
            "cargo:warning=web-app/frontend/dist is missing: the marquee binary serves a page saying how to build the \
             web app (scripts/build-web-app.sh), then build marquee again"
        );
        println!("cargo:rustc-env=MARQUEE_WEB_APP_BUILT=0");
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("web-app-not-built");
        std::fs::create_dir_all(&out).expect("cannot create the stand-in folder");
        std::fs::write(out.join("index.html"), NOT_BUILT).expect("cannot write the stand-in page");
        out
    };
    println!("cargo:rustc-env=MARQUEE_WEB_APP_DIST={}", folder.display());
}

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Marquee: web app not built</title></head>
<body><main><h1>The web app is not in this build</h1>
<p>This marquee binary was built before its web app. Run <code>scripts/build-web-app.sh</code> (it needs Node.js 20.19
or newer; <code>scripts/install-deps.sh</code> installs it), then build marquee again.</p>
<p>The control API works without it: <a href="/openapi.json">/openapi.json</a>.</p></main></body></html>
"#;
