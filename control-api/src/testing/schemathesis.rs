//! schemathesis (PyPI, installed by `scripts/install-deps.sh --test` into a virtualenv outside the clone) run
//! against a test API's `/openapi.json`: the control API's test and each satellite's use it alike.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The installed `st` command; fails the test saying how to install it if it is missing.
pub fn command() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let st = PathBuf::from(home).join(".cache/marquee-tools/schemathesis/bin/st");
    assert!(
        st.is_file(),
        "schemathesis is not installed ({} is missing): run `scripts/install-deps.sh --test`",
        st.display()
    );
    st
}

/// A finished schemathesis run that found nothing.
#[derive(Debug)]
pub struct Run {
    /// The JUnit report: one test case per operation (and one for the stateful scenarios).
    pub report: String,
    /// What schemathesis printed, for failure messages.
    pub printed: String,
}

impl Run {
    /// The operations it tested, as `METHOD /path`, sorted.
    pub fn tested(&self) -> Vec<String> {
        junit_cases(&self.report)
    }

    /// Fails the test unless every one of `operations` was tested and none was skipped.
    pub fn assert_tested<S: AsRef<str>>(&self, operations: &[S]) {
        let tested = self.tested();
        let untested: Vec<&str> =
            operations.iter().map(AsRef::as_ref).filter(|operation| !tested.iter().any(|t| t == operation)).collect();
        assert!(untested.is_empty(), "not tested: {untested:?}\n{}", self.printed);
        assert!(!self.report.contains("<skipped"), "{}\n{}", self.report, self.printed);
    }
}

/// Runs schemathesis with the settings file `config` against `document_url`, with `env` set (the ids and
/// keys its settings or hooks read), in a temporary directory. Fails the test with schemathesis's output if it
/// found any answer outside the document (or could not run).
pub async fn run(document_url: &str, config: &Path, env: &[(&str, &OsStr)]) -> Run {
    let st = command();
    let work = tempfile::tempdir().expect("a temporary directory");
    let junit = work.path().join("junit.xml");
    let mut command = Command::new(&st);
    command
        .current_dir(work.path())
        .envs(env.iter().map(|(name, value)| (*name, *value)))
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(document_url)
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the schemathesis task ends")
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; run `scripts/install-deps.sh --test`", st.display()));
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "schemathesis found answers outside the OpenAPI document:\n{printed}");
    let report = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("no JUnit report ({e}):\n{printed}"));
    Run { report, printed }
}

/// The operations of an OpenAPI document, as `METHOD /path`, sorted.
pub fn operations(doc: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("the document has paths") {
        for (method, _) in item.as_object().expect("a path item is an object") {
            if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                found.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    found.sort();
    found
}

/// The names of the test cases in a JUnit report, sorted.
pub fn junit_cases(report: &str) -> Vec<String> {
    let mut cases: Vec<String> = report
        .split("<testcase ")
        .skip(1)
        .filter_map(|case| case.split("name=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect();
    cases.sort();
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_junit_cases_are_named_alike() {
        let doc = serde_json::json!({"paths": {
            "/v1/a": {"get": {}, "post": {}, "parameters": []},
            "/v1/b/{id}": {"delete": {}}
        }});
        assert_eq!(operations(&doc), ["DELETE /v1/b/{id}", "GET /v1/a", "POST /v1/a"]);
        let report =
            r#"<testsuite><testcase name="POST /v1/a" time="1"/><testcase name="GET /v1/a"></testcase></testsuite>"#;
        assert_eq!(junit_cases(report), ["GET /v1/a", "POST /v1/a"]);
    }
}
