//! The `deploy/` folder, checked by the tools that run it: the systemd unit by
//! `systemd-analyze`, the reverse proxy by `nginx -t`. (`.ci/run` installs nginx from Debian.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(file)
}

/// The tool's path, or `None` (said, and refused under CI) when it is not installed.
fn tool(name: &str) -> Option<PathBuf> {
    let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"]
        .iter()
        .map(|folder| Path::new(folder).join(name))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(std::env::var("CI").is_err(), "{name} must be installed under CI (.ci/run installs it)");
        eprintln!("SKIPPED: {name} is not installed");
    }
    found
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let Some(analyze) = tool("systemd-analyze") else { return };
    let folder = tempfile::tempdir().expect("a folder");
    // As installed: the binary where ExecStart says (verify checks that it can run it).
    let unit = std::fs::read_to_string(deploy("appeal.service"))
        .expect("deploy/appeal.service")
        .replace("/usr/local/bin/appeal", env!("CARGO_BIN_EXE_appeal"));
    let path = folder.path().join("appeal.service");
    std::fs::write(&path, unit).expect("written");
    let verified = Command::new(&analyze).arg("verify").arg(&path).output().expect("systemd-analyze runs");
    let said =
        String::from_utf8_lossy(&verified.stderr).into_owned() + &String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");

    let security =
        Command::new(&analyze).args(["security", "--offline=yes"]).arg(&path).output().expect("it runs");
    let report = String::from_utf8_lossy(&security.stdout).into_owned();
    let exposure: f64 = report
        .lines()
        .find_map(|line| line.split("Overall exposure level for appeal.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("an exposure level in {report}"));
    assert!(exposure <= 2.0, "the unit is hardened (exposure {exposure}, at most 2.0 wanted)");
}

#[test]
fn the_nginx_example_passes_nginx_t() {
    let Some(nginx) = tool("nginx") else { return };
    let Some(openssl) = tool("openssl") else { return };
    let folder = tempfile::tempdir().expect("a folder");
    let dir = folder.path().display().to_string();
    // A throwaway certificate where the example names Let's Encrypt's.
    let made = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=give.example.org",
        ])
        .args(["-keyout", &format!("{dir}/key.pem"), "-out", &format!("{dir}/cert.pem")])
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let site = std::fs::read_to_string(deploy("nginx.conf"))
        .expect("deploy/nginx.conf")
        .replace("/etc/letsencrypt/live/give.example.org/fullchain.pem", &format!("{dir}/cert.pem"))
        .replace("/etc/letsencrypt/live/give.example.org/privkey.pem", &format!("{dir}/key.pem"));
    std::fs::write(folder.path().join("site.conf"), site).expect("written");
    // As /etc/nginx/nginx.conf includes conf.d/: inside http {}.
    let main = format!(
        "pid {dir}/nginx.pid;\nerror_log {dir}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  include {dir}/site.conf;\n}}\n"
    );
    std::fs::write(folder.path().join("main.conf"), main).expect("written");
    let tested = Command::new(nginx)
        .args(["-t", "-c", &format!("{dir}/main.conf"), "-p", &dir])
        .output()
        .expect("nginx runs");
    let said = String::from_utf8_lossy(&tested.stderr).into_owned();
    assert!(tested.status.success() && said.contains("test is successful"), "nginx -t: {said}");
}

#[test]
fn the_containerfile_runs_the_binary_as_a_user_from_a_small_image() {
    let file = std::fs::read_to_string(deploy("Containerfile")).expect("deploy/Containerfile");
    let stages: Vec<&str> = file.lines().filter(|line| line.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "built in one stage, run from another");
    assert!(stages[1].contains("slim"), "a small runtime image");
    assert!(file.lines().any(|line| line.starts_with("USER ") && !line.contains("root")), "not root");
    // Everything the build reads is copied; nothing else reaches the runtime image.
    for needed in ["Cargo.toml", "src", "web", "migrations"] {
        assert!(file.contains(&format!("COPY {needed}")), "the build copies {needed}");
    }
    let runtime = file.split(stages[1]).nth(1).expect("the runtime stage");
    let copies: Vec<&str> = runtime.lines().filter(|line| line.starts_with("COPY ")).collect();
    assert_eq!(copies, ["COPY --from=build /src/target/release/appeal /usr/local/bin/appeal"]);
}
