//! ProxyJump: a TCP tunnel to the target over an SSH connection to the jump host
//! (a `direct-tcpip` channel). libssh2 needs a socket for the target's session, so the
//! tunnel hands it one end of a local socket pair and a thread copies bytes between the
//! other end and the channel. The jump host's session lives and is used on that thread only.

use std::io::{ErrorKind, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ssh2::Session;

/// Keeps the copying thread (and the jump connection) alive; stops them when dropped.
pub struct Tunnel {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tunnel {
    /// Opens the channel to `host:port` through `session` (owned by `keep_alive`) and
    /// returns the socket the target's session uses.
    pub fn open<T: Send + 'static>(
        session: Session,
        keep_alive: T,
        host: &str,
        port: u16,
    ) -> Result<(UnixStream, Tunnel), String> {
        let channel = session
            .channel_direct_tcpip(host, port, None)
            .map_err(|e| format!("cannot open a tunnel to {host}:{port}: {e}"))?;
        let (local, remote_end) = UnixStream::pair().map_err(|e| e.to_string())?;
        remote_end.set_nonblocking(true).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let _keep_alive = keep_alive;
            session.set_blocking(false);
            copy(channel, remote_end, &flag);
        });
        Ok((local, Tunnel { stop, thread: Some(thread) }))
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies both ways until either side closes or `stop` is set.
fn copy(mut channel: ssh2::Channel, mut local: UnixStream, stop: &AtomicBool) {
    let mut to_remote: Vec<u8> = Vec::new();
    let mut to_local: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 32 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let mut idle = true;
        if to_remote.is_empty() {
            match local.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    to_remote.extend_from_slice(&buffer[..n]);
                    idle = false;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if !to_remote.is_empty() {
            match channel.write(&to_remote) {
                Ok(n) => {
                    to_remote.drain(..n);
                    idle = false;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if to_local.is_empty() {
            match channel.read(&mut buffer) {
                Ok(0) if channel.eof() => break,
                Ok(0) => {}
                Ok(n) => {
                    to_local.extend_from_slice(&buffer[..n]);
                    idle = false;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if !to_local.is_empty() {
            match local.write(&to_local) {
                Ok(n) => {
                    to_local.drain(..n);
                    idle = false;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
        if idle {
            std::thread::sleep(Duration::from_micros(500));
        }
    }
    let _ = channel.close();
}
