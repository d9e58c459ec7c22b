//! #22 item 1 (high): behind a reverse proxy every client shared the proxy's address, so one
//! attacker's failed logins locked every user out. Tested behind a real nginx
//! (`X-Forwarded-For`, `set_real_ip_from`-style trust) and a real haproxy (`send-proxy-v2`),
//! both from Debian's packages: clients bind distinct loopback addresses (127.0.0.2 and up),
//! so the proxy sees each one's own. Without nginx or haproxy the test prints SKIP, which
//! fails under `CI=true`.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        common::stop(&mut self.0);
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

fn required(name: &str) -> Option<PathBuf> {
    let found = tool(name);
    if found.is_none() {
        common::skip(&format!("{name} is not installed"));
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server, with a user alice whose password is `right`, and low lock-out thresholds.
fn server(dir: &Path, extra: &[&str]) -> (common::Running, SocketAddr) {
    std::fs::create_dir_all(dir.join("auth-data")).unwrap();
    std::fs::write(
        dir.join("auth-data/users"),
        format!("alice\tactive\t{}\n", common::phc("right")),
    )
    .unwrap();
    let mut args = vec!["--ip-failures", "5", "--user-failures", "1000"];
    args.extend_from_slice(extra);
    let running = common::run_server(dir, &args, "warn");
    let addr = running.addr;
    (running, addr)
}

/// `cmd` in the background, quiet, until dropped.
fn spawn_quiet(cmd: &mut Command) -> Kill {
    Kill(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A login through `to` from the local address `from`, with extra headers; the status.
fn login(to: SocketAddr, from: [u8; 4], user: &str, pw: &str, headers: &str) -> u16 {
    let mut s = common::connect_from(to, IpAddr::from(from));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = format!("username={user}&password={pw}");
    let req = format!(
        "POST /auth/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn wait_for(addr: SocketAddr) {
    let t0 = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{addr} never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

const ATTACKER: [u8; 4] = [127, 0, 0, 2];
const VICTIM: [u8; 4] = [127, 0, 0, 3];

/// The attacker fails until locked (forging `X-Forwarded-For` on every try); the victim,
/// behind the same proxy, still logs in; the attacker stays locked.
fn attacker_and_victim(front: SocketAddr, what: &str) {
    // A fresh forged address on every try: trusting it would give each try a fresh counter.
    let forged =
        |i: u8| format!("X-Forwarded-For: 198.51.100.{i}\r\nForwarded: for=198.51.101.{i}\r\n");
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(login(
            front,
            ATTACKER,
            &format!("nobody{i}"),
            "x",
            &forged(i),
        ));
    }
    assert!(
        statuses.contains(&429),
        "{what}: the attacker was never locked: {statuses:?}"
    );
    assert_eq!(
        login(front, ATTACKER, "alice", "right", &forged(99)),
        429,
        "{what}: the attacker is locked"
    );
    assert_eq!(
        login(front, VICTIM, "alice", "right", ""),
        200,
        "{what}: the victim behind the same proxy was locked out"
    );
}

#[test]
fn behind_nginx_one_attacker_locks_only_itself() {
    let Some(nginx) = required("nginx") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, upstream) = server(dir.path(), &["--trusted-proxy", "127.0.0.1/32"]);
    let port = free_port();
    let conf = dir.path().join("nginx.conf");
    let d = dir.path().display();
    // What docs/operations.md's "Running several instances" shows, on loopback.
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/ngx-body;\n\
               proxy_temp_path {d}/ngx-proxy;\n  fastcgi_temp_path {d}/ngx-fcgi;\n\
               uwsgi_temp_path {d}/ngx-uwsgi;\n  scgi_temp_path {d}/ngx-scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
                 proxy_pass http://{upstream};\n\
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 proxy_set_header Host $host;\n    }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
    let _nginx = spawn_quiet(
        Command::new(nginx)
            .args(["-p", &d.to_string(), "-c"])
            .arg(&conf),
    );
    let front = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(front);
    attacker_and_victim(front, "nginx");

    // A direct client with a forged header is keyed by its own address: locked itself, it
    // cannot lock the address it names, nor escape its own lock by naming another.
    let direct = [127, 0, 0, 4];
    let forged = "X-Forwarded-For: 127.0.0.5\r\n";
    for i in 0..8 {
        login(upstream, direct, &format!("nobody{i}"), "x", forged);
    }
    assert_eq!(
        login(
            upstream,
            direct,
            "alice",
            "right",
            "X-Forwarded-For: 127.0.0.6\r\n"
        ),
        429
    );
    assert_eq!(login(upstream, [127, 0, 0, 5], "alice", "right", ""), 200);
}

#[test]
fn without_trusted_proxy_the_headers_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = server(dir.path(), &[]);
    // From one address, each try naming a fresh "client": all counted against the peer.
    for i in 0..8 {
        login(
            addr,
            ATTACKER,
            &format!("nobody{i}"),
            "x",
            &format!("X-Forwarded-For: 198.51.100.{i}\r\nForwarded: for=198.51.100.{i}\r\n"),
        );
    }
    assert_eq!(
        login(
            addr,
            ATTACKER,
            "alice",
            "right",
            "X-Forwarded-For: 203.0.113.9\r\n"
        ),
        429
    );
    assert_eq!(login(addr, VICTIM, "alice", "right", ""), 200);
}

#[test]
fn behind_haproxy_with_proxy_protocol_v2_one_attacker_locks_only_itself() {
    let Some(haproxy) = required("haproxy") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_server, upstream) = server(
        dir.path(),
        &["--trusted-proxy", "127.0.0.1", "--proxy-protocol"],
    );
    let port = free_port();
    let conf = dir.path().join("haproxy.cfg");
    std::fs::write(
        &conf,
        format!(
            "global\n  maxconn 256\ndefaults\n  mode tcp\n  timeout connect 5s\n\
             timeout client 30s\n  timeout server 30s\n\
             frontend fe\n  bind 127.0.0.1:{port}\n  default_backend be\n\
             backend be\n  server s1 {upstream} send-proxy-v2\n"
        ),
    )
    .unwrap();
    let _haproxy = spawn_quiet(Command::new(haproxy).args(["-db", "-f"]).arg(&conf));
    let front = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for(front);
    attacker_and_victim(front, "haproxy");

    // A PROXY header from an untrusted peer is refused: the connection closes unanswered.
    let mut s = common::connect_from(upstream, IpAddr::from([127, 0, 0, 8]));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"PROXY TCP4 203.0.113.7 127.0.0.1 5000 8000\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));
    // A trusted peer without a PROXY header is closed too: the header is required of it.
    let mut s = TcpStream::connect(upstream).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));
}

/// `--proxy-headers forwarded`: a proxy that writes RFC 7239 `Forwarded` (here the test itself,
/// connecting from the trusted 127.0.0.1) names the client; `X-Forwarded-For` is then ignored.
#[test]
fn forwarded_is_read_when_configured_and_x_forwarded_for_then_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = server(
        dir.path(),
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--proxy-headers",
            "forwarded",
        ],
    );
    let proxy = [127, 0, 0, 1];
    for i in 0..8 {
        let h = format!("Forwarded: for=192.0.2.7\r\nX-Forwarded-For: 198.51.100.{i}\r\n");
        login(addr, proxy, &format!("nobody{i}"), "x", &h);
    }
    let as_client = |c: &str| format!("Forwarded: for=\"{c}:4711\";proto=http\r\n");
    assert_eq!(
        login(addr, proxy, "alice", "right", &as_client("192.0.2.7")),
        429
    );
    assert_eq!(
        login(addr, proxy, "alice", "right", &as_client("192.0.2.8")),
        200
    );
}
