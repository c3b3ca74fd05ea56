//! CSV text in memory, the one way the project writes CSV: the `csv` crate's RFC 4180
//! quoting (a field is quoted only when it must be), `\n` line ends, UTF-8. Clearing files,
//! settlement and reconciliation files, and every CSV of a report go through it.

/// A CSV being written: a header, then rows.
pub struct CsvText {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvText {
    /// A file with this header row.
    pub fn new<I, S>(header: I) -> CsvText
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let mut text = CsvText { writer };
        text.row(header);
        text
    }

    /// One row.
    pub fn row<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.writer.write_record(fields).expect("writing to memory cannot fail");
    }

    /// The text.
    pub fn finish(self) -> String {
        let bytes = self.writer.into_inner().expect("flushing to memory cannot fail");
        String::from_utf8(bytes).expect("every field is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    //! Goal: plain fields stay bare, awkward ones are quoted, lines end with `\n`.

    use super::CsvText;

    #[test]
    fn quotes_only_what_must_be_quoted() {
        let mut t = CsvText::new(["a", "b"]);
        t.row(["1", "x,y"]);
        t.row(["say \"hi\"", ""]);
        assert_eq!(t.finish(), "a,b\n1,\"x,y\"\n\"say \"\"hi\"\"\",\n");
    }
}
