//! A command in a pseudo-terminal (util-linux `script`), with answers typed the way a person
//! types them: each once its question is on the screen (a question ends in `]: `), however
//! slow the machine. For `chaton init` and the newcomer's hour.

use std::io::{Read as _, Write as _};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs the shell command line `command` in a pseudo-terminal with `env` added, types
/// `answers` (each question awaited for at most `wait`), and returns what the screen showed
/// (line ends as `\n`) and how it ended.
pub fn typed(
    command: &str,
    env: &[(&str, &std::path::Path)],
    answers: &[&str],
    wait: Duration,
) -> (String, ExitStatus) {
    let mut script = Command::new("script");
    script.args(["-qec", command, "/dev/null"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (name, value) in env {
        script.env(name, value);
    }
    let mut child = script.spawn().expect("script (util-linux) is installed");
    let screen = Arc::new(Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let screen = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                screen.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    for (i, answer) in answers.iter().enumerate() {
        let deadline = Instant::now() + wait;
        while screen.lock().unwrap().matches("]: ").count() <= i {
            assert!(Instant::now() < deadline, "question {} never came:\n{}", i + 1, screen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
        writeln!(stdin, "{answer}").unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let screen = screen.lock().unwrap().replace("\r\n", "\n");
    (screen, status)
}
