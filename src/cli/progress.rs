//! Progress of long command-line work, on standard error: a bar redrawn in place on a
//! terminal, a quiet line every tenth of the way otherwise (a log, a cron mail).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Where a long piece of work stands.
#[derive(Debug)]
pub(super) struct Progress {
    terminal: bool,
    /// The stage last shown and the tenth of it last written as a line.
    shown: Mutex<(String, usize)>,
}

const BAR: usize = 30;

impl Progress {
    pub(super) fn new() -> Self {
        Progress { terminal: std::io::stderr().is_terminal(), shown: Mutex::new((String::new(), usize::MAX)) }
    }

    /// `done` of `total` items of `stage` are through.
    pub(super) fn show(&self, stage: &str, done: usize, total: usize) {
        let Ok(mut shown) = self.shown.lock() else { return };
        let tenth = (done * 10).checked_div(total).unwrap_or(10);
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let filled = (done * BAR).checked_div(total).unwrap_or(BAR);
            let _ = write!(
                err,
                "\r{stage:<14} [{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(BAR - filled)
            );
            if done >= total {
                let _ = writeln!(err);
            }
        } else if shown.0 != stage || shown.1 != tenth {
            let _ = writeln!(err, "{stage}: {done} of {total}");
        }
        *shown = (stage.to_owned(), tenth);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_once_a_tenth() {
        let progress = Progress { terminal: false, shown: Mutex::new((String::new(), usize::MAX)) };
        for done in 0..=100 {
            progress.show("charges", done, 100);
        }
        assert_eq!(progress.shown.lock().expect("not poisoned").clone(), ("charges".to_owned(), 10));
    }
}
