//! The files under static/, compiled into the binary so that the app needs
//! nothing beside itself (and nothing from the internet).

pub struct StaticFile {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! static_file {
    ($path:literal, $ct:literal) => {
        StaticFile {
            path: $path,
            content_type: $ct,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/", $path)),
        }
    };
}

pub static FILES: &[StaticFile] = &[
    static_file!("css/app.css", "text/css; charset=utf-8"),
    static_file!("css/print.css", "text/css; charset=utf-8"),
    static_file!("js/app.js", "text/javascript; charset=utf-8"),
    static_file!("img/logo.svg", "image/svg+xml"),
    // The API reference page: swagger-ui-dist 5.35.0 from npm (Apache-2.0).
    static_file!("api/docs.html", "text/html; charset=utf-8"),
    static_file!("api/docs.js", "text/javascript; charset=utf-8"),
    static_file!("api/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    static_file!("api/swagger-ui.css", "text/css; charset=utf-8"),
    static_file!("api/SWAGGER-UI-LICENSE.txt", "text/plain; charset=utf-8"),
];

pub fn find(path: &str) -> Option<&'static StaticFile> {
    FILES.iter().find(|f| f.path == path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_in_static_is_served() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut on_disk = Vec::new();
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.push(
                        p.strip_prefix(root)
                            .unwrap()
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        walk(&root, &root, &mut on_disk);
        for f in on_disk {
            assert!(
                super::find(&f).is_some(),
                "static/{f} is not in static_files::FILES"
            );
        }
    }
}
