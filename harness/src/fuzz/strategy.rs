//! proptest strategies for command sequences, and the seeds that make a
//! fuzzing run reproducible.
//!
//! A sequence is generated without looking at the model: any order of
//! commands is a valid input, and the model decides, while the session runs,
//! what each reply must be. So proptest's shrinking can drop or replace any
//! command and the result is still a meaningful test (which is why this is a
//! plain `Vec` strategy and not `proptest-state-machine`, whose transitions
//! are generated from a reference state that cannot know the server's replies).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::op::Op;

/// How often each command is drawn, relative to the others. MAIL and RCPT
/// dominate so that transactions open (and nest) often; EHLO and RSET are
/// common so that resets land inside transactions; DATA and BDAT come often
/// enough to meet every transaction state. Out-of-sequence commands are then
/// the rule, not the exception (see the coverage table `fuzz` prints).
pub fn weight(op: Op) -> u32 {
    match op {
        Op::Mail | Op::RcptKnown => 8,
        Op::Ehlo => 6,
        Op::RcptUnknown | Op::Data => 4,
        Op::Rset => 3,
        Op::Helo | Op::BdatChunk | Op::BdatLast | Op::Auth => 2,
        Op::Noop | Op::Vrfy | Op::Expn | Op::Help | Op::StartTls | Op::Quit => 1,
    }
}

/// One command drawn from `alphabet` by [`weight`]. Shrinking moves towards
/// the alphabet's earlier entries.
pub fn op_strategy(alphabet: &[Op]) -> BoxedStrategy<Op> {
    assert!(
        !alphabet.is_empty(),
        "the alphabet has at least the core commands"
    );
    Union::new_weighted(
        alphabet
            .iter()
            .map(|&op| (weight(op), Just(op).boxed()))
            .collect(),
    )
    .boxed()
}

/// How often a whole `MAIL, RCPT` pair is drawn as one element, relative
/// to [`weight`]: it carries sessions into the in-sequence states (a
/// transaction with a recipient) that single draws reach only rarely.
pub const PAIR_WEIGHT: u32 = 6;

/// Chance that a sequence opens with EHLO. Most do, so that most commands
/// are judged in a greeted session; the rest exercise the rules before EHLO
/// (4.1.4), and shrinking can always drop the opening EHLO.
pub const OPEN_WITH_EHLO: f64 = 0.75;

/// A sequence of 1 to `max_len` commands from `alphabet`: an optional
/// opening EHLO, then elements that are single commands or a `MAIL, RCPT`
/// pair, cut to `max_len`.
pub fn sequence_strategy(alphabet: &[Op], max_len: usize) -> BoxedStrategy<Vec<Op>> {
    let max_len = max_len.max(1);
    let element = Union::new_weighted(vec![
        (
            alphabet.iter().map(|&op| weight(op)).sum::<u32>(),
            op_strategy(alphabet).prop_map(|op| vec![op]).boxed(),
        ),
        (PAIR_WEIGHT, Just(vec![Op::Mail, Op::RcptKnown]).boxed()),
    ]);
    (
        proptest::option::weighted(OPEN_WITH_EHLO, Just(Op::Ehlo)),
        vec(element, 1..=max_len),
    )
        .prop_map(move |(open, elements)| {
            let mut ops: Vec<Op> = open
                .into_iter()
                .chain(elements.into_iter().flatten())
                .collect();
            ops.truncate(max_len);
            ops
        })
        .boxed()
}

/// The 32-byte ChaCha seed of case `index` in a run with seed `seed`. Each
/// case has its own seed, so case 500 is the same sequence whatever happened
/// in cases 0 to 499, and a failing case can be saved as one seed.
pub fn case_seed(seed: u64, index: u64) -> [u8; 32] {
    // splitmix64 over (seed, index): fast, and every bit of both matters.
    let mut state = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

/// The value tree (a sequence and its shrinking) for one case seed.
pub fn new_tree(
    strategy: &BoxedStrategy<Vec<Op>>,
    seed: &[u8; 32],
) -> Box<dyn ValueTree<Value = Vec<Op>>> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, seed);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    // Generating from a union of `Just`s and a bounded vec cannot be rejected.
    strategy
        .new_tree(&mut runner)
        .expect("sequence strategies never reject")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::op::ALL_OPS;

    #[test]
    fn a_seed_gives_the_same_sequence_every_time() {
        let s = sequence_strategy(&ALL_OPS, 12);
        let a = new_tree(&s, &case_seed(7, 3)).current();
        let b = new_tree(&s, &case_seed(7, 3)).current();
        let c = new_tree(&s, &case_seed(7, 4)).current();
        let d = new_tree(&s, &case_seed(8, 3)).current();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn sequences_respect_length_and_alphabet() {
        let alphabet = [Op::Ehlo, Op::Mail, Op::RcptKnown, Op::Noop];
        let s = sequence_strategy(&alphabet, 5);
        let mut lengths = std::collections::BTreeSet::new();
        for i in 0..200 {
            let ops = new_tree(&s, &case_seed(1, i)).current();
            assert!((1..=5).contains(&ops.len()), "{ops:?}");
            assert!(ops.iter().all(|op| alphabet.contains(op)), "{ops:?}");
            lengths.insert(ops.len());
        }
        assert_eq!(lengths.len(), 5, "every length from 1 to 5 occurs");
    }

    #[test]
    fn weights_make_mail_and_rcpt_common() {
        let s = sequence_strategy(&ALL_OPS, 12);
        let mut counts = std::collections::BTreeMap::<Op, usize>::new();
        for i in 0..500 {
            for op in new_tree(&s, &case_seed(2, i)).current() {
                *counts.entry(op).or_default() += 1;
            }
        }
        assert!(counts[&Op::Mail] > 4 * counts[&Op::Noop], "{counts:?}");
        assert!(counts[&Op::RcptKnown] > 4 * counts[&Op::Quit], "{counts:?}");
    }

    #[test]
    fn shrinking_removes_commands() {
        let s = sequence_strategy(&ALL_OPS, 12);
        let mut tree = new_tree(&s, &case_seed(3, 0));
        let before = tree.current().len();
        // Accept every simplification: the sequence must get shorter.
        while tree.simplify() {}
        assert!(tree.current().len() <= before);
        assert_eq!(tree.current().len(), 1, "shrinks to the minimum length");
    }
}
