//! Goal: the journal keeps what it is given, all of a batch or none, refuses files that are not
//! ours without touching them, and its check finds every inconsistency it claims to. Method: a
//! table of journals built entry by entry, each with the report `check` must give.

use super::*;

fn temp(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("bakong-sim-journal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("journal.sqlite")
}

fn accepted(id: u64) -> Entry {
    Entry::Accepted(Accepted {
        id,
        idempotency_key: format!("key-{id}"),
        originator: "kh_bank_0".into(),
        originator_participant: ParticipantId(2),
        request_sha256: "00".repeat(32),
        flow: "domestic".into(),
        amount: Money::new(Currency::Khr, 40_000),
        payer: "payer-1".into(),
        payee: ParticipantId(3),
        at: Timestamp::from_millis(1_000),
    })
}

fn booked(transfer: u64, payment: u64, reversal: bool) -> Entry {
    let (debit, credit) = if reversal { (3, 2) } else { (2, 3) };
    Entry::Booked(Booking {
        transfer: TransferId(transfer),
        payment,
        debit: ParticipantId(debit),
        credit: ParticipantId(credit),
        amount: Money::new(Currency::Khr, 40_000),
        reversal,
    })
}

fn final_(payment: u64, outcome: &str) -> Entry {
    Entry::Final {
        payment,
        outcome: outcome.into(),
        decline: None,
        at: Timestamp::from_millis(2_000),
        acknowledged: true,
    }
}

fn check_case(name: &str, batches: &[Vec<Entry>], duplicates: u64, ok: bool) {
    let path = temp(name);
    let mut journal = Journal::open(&path).expect("opens");
    for batch in batches {
        journal.commit(batch).expect("commits");
    }
    drop(journal);
    let report = check(&path).expect("reads");
    assert_eq!((report.duplicates, report.ok()), (duplicates, ok), "{name}: {report:?}");
    std::fs::remove_dir_all(path.parent().expect("dir")).expect("cleans up");
}

#[test]
fn the_check_finds_what_is_wrong() {
    check_case(
        "approved",
        &[vec![accepted(1)], vec![booked(10, 1, false), final_(1, "approved")]],
        0,
        true,
    );
    check_case("open", &[vec![accepted(1)]], 0, true);
    check_case(
        "reversed",
        &[
            vec![accepted(1), booked(10, 1, false)],
            vec![booked(11, 1, true), final_(1, "reversed")],
        ],
        0,
        true,
    );
    check_case(
        "approved twice",
        &[vec![accepted(1), booked(10, 1, false), booked(11, 1, false), final_(1, "approved")]],
        1,
        false,
    );
    check_case("approved, no booking", &[vec![accepted(1), final_(1, "approved")]], 1, false);
    check_case(
        "declined, booked",
        &[vec![accepted(1), booked(10, 1, false), final_(1, "declined")]],
        1,
        false,
    );
}

#[test]
fn a_batch_is_kept_whole_or_not_at_all() {
    let path = temp("atomic");
    let mut journal = Journal::open(&path).expect("opens");
    journal.commit(&[accepted(1)]).expect("commits");
    // The second accepted(1) breaks the primary key: the booking before it must not stay.
    let err = journal.commit(&[booked(10, 1, false), accepted(1)]);
    assert!(err.is_err());
    drop(journal);
    let recovered = Journal::open(&path).expect("reopens").recover().expect("reads");
    assert_eq!(recovered.payments.len(), 1);
    assert!(recovered.bookings.is_empty(), "half a batch was kept");
    std::fs::remove_dir_all(path.parent().expect("dir")).expect("cleans up");
}

/// A payment whose flow or currency this build does not know is refused on recovery, with
/// the payment's number, never read as some default.
#[test]
fn unknown_names_are_refused_on_recovery() {
    for (column, value, expect) in [
        ("flow", "sideways", "payment 1: unknown flow \"sideways\""),
        ("currency", "XXX", "payment 1: unknown currency \"XXX\""),
    ] {
        let path = temp(&format!("unknown-{column}"));
        let mut journal = Journal::open(&path).expect("opens");
        journal.commit(&[accepted(1)]).expect("commits");
        let recovered = journal.recover().expect("reads");
        assert_eq!(recovered.payments[0].flow, Flow::Domestic);
        assert_eq!(recovered.payments[0].amount, Money::new(Currency::Khr, 40_000));
        drop(journal);
        let conn = rusqlite::Connection::open(&path).expect("opens");
        conn.execute(&format!("UPDATE payments SET {column} = ?1"), [value]).expect("edits");
        drop(conn);
        let err = Journal::open(&path).expect("opens").recover().expect_err("refused");
        assert!(err.to_string().contains(expect), "{column}: {err}");
        std::fs::remove_dir_all(path.parent().expect("dir")).expect("cleans up");
    }
}

#[test]
fn a_file_that_is_not_ours_is_refused_and_left_alone() {
    let path = temp("foreign");
    {
        let conn = rusqlite::Connection::open(&path).expect("opens");
        conn.execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');")
            .expect("writes");
    }
    let before = std::fs::read(&path).expect("reads");
    let err = Journal::open(&path).err().expect("refused");
    assert!(err.to_string().contains("not a bakong-sim journal"), "{err}");
    assert!(std::fs::read(&path).expect("reads") == before, "the file was changed");
    std::fs::write(&path, b"plain text, not SQLite").expect("writes");
    assert!(Journal::open(&path).is_err());
    assert!(check(&path).is_err());
    assert!(std::fs::read(&path).expect("reads") == b"plain text, not SQLite");
    std::fs::remove_dir_all(path.parent().expect("dir")).expect("cleans up");
}

#[test]
fn the_writer_commits_in_groups_and_answers_every_batch() {
    let path = temp("writer");
    let stats = std::sync::Arc::new(WriterStats::default());
    let writer = Writer::start(Journal::open(&path).expect("opens"), stats.clone());
    let (tx, rx) = mpsc::channel();
    for id in 1..=500u64 {
        let tx = tx.clone();
        writer
            .submit(
                vec![accepted(id), booked(id * 10, id, false), final_(id, "approved")],
                Box::new(move |r| tx.send((id, r)).expect("sends")),
            )
            .expect("queued");
    }
    let mut answered: Vec<u64> = (0..500)
        .map(|_| rx.recv().expect("answered"))
        .map(|(id, r)| {
            r.expect("committed");
            id
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, (1..=500).collect::<Vec<_>>());
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=500).contains(&commits), "{commits} commits");
    drop(writer);
    let report = check(&path).expect("reads");
    assert_eq!(
        (report.payments_final, report.payments_acknowledged, report.ok()),
        (500, 500, true),
        "{report:?}"
    );
    std::fs::remove_dir_all(path.parent().expect("dir")).expect("cleans up");
}
