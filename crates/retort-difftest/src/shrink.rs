//! Shrinking a failing case to a minimal one: statements are removed from A and B, one at a
//! time, for as long as both sides still load and the case still fails.

/// Whether a case (A statements, B statements) fails; `None` when a side does not load.
pub type Verdict<'a> = dyn FnMut(&[String], &[String]) -> Option<bool> + 'a;

/// The smallest (A, B) reachable by single-statement removals that still fails.
pub fn shrink(
    mut a: Vec<String>,
    mut b: Vec<String>,
    fails: &mut Verdict<'_>,
) -> (Vec<String>, Vec<String>) {
    loop {
        let mut progress = false;
        for side in 0..2 {
            let mut i = 0;
            loop {
                let len = if side == 0 { a.len() } else { b.len() };
                if i >= len {
                    break;
                }
                let (mut a2, mut b2) = (a.clone(), b.clone());
                if side == 0 {
                    a2.remove(i);
                } else {
                    b2.remove(i);
                }
                // The same statement in both sides usually goes from both at once.
                let twin = if side == 0 { &a[i] } else { &b[i] };
                let (mut a3, mut b3) = (a2.clone(), b2.clone());
                if side == 0 {
                    b3.retain(|s| s != twin);
                } else {
                    a3.retain(|s| s != twin);
                }
                if fails(&a3, &b3) == Some(true) {
                    (a, b) = (a3, b3);
                    progress = true;
                } else if fails(&a2, &b2) == Some(true) {
                    (a, b) = (a2, b2);
                    progress = true;
                } else {
                    i += 1;
                }
            }
        }
        if !progress {
            return (a, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_the_failure_needs() {
        let a: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
        let b: Vec<String> = ["x", "q", "z"].iter().map(|s| s.to_string()).collect();
        // "Fails" while B has q and A has z; loads only while A has x.
        let mut fails = |a: &[String], b: &[String]| {
            if !a.contains(&"x".to_string()) {
                return None;
            }
            Some(b.contains(&"q".to_string()) && a.contains(&"z".to_string()))
        };
        let (a, b) = shrink(a, b, &mut fails);
        assert_eq!(a, vec!["x".to_string(), "z".to_string()]);
        assert_eq!(b, vec!["q".to_string()]);
    }
}
