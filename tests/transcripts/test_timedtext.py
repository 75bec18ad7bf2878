"""Reading and writing WebVTT and SRT as archivists' files come: BOM, CRLF, overlaps, settings,
tags, French accents, Arabic, and clear errors with the line to fix."""

from __future__ import annotations

import pytest

from webapp.media.timedtext import (
    Cue,
    TimedTextError,
    parse,
    plain_text,
    speaker,
    to_srt,
    to_webvtt,
)

INTERVIEW_VTT = (
    "\ufeffWEBVTT - Entretien avec Fatima\r\n"
    "Kind: captions\r\n"
    "\r\n"
    "NOTE enregistré à Vitry, 1998\r\n"
    "\r\n"
    "intro\r\n"
    "00:00:01.000 --> 00:00:04.500 align:start line:90%\r\n"
    "<v Fatima>Je suis arrivée à Orly en <i>hiver</i> 1962.</v>\r\n"
    "\r\n"
    "00:03.000 --> 00:06.000\r\n"
    "— Et votre mère ? &amp; vos frères ?\r\n"
    "\r\n"
    "00:00:12.000 --> 00:00:15.250\r\n"
    "قالت لي أمي: لا تنسي بلدك\r\n"
    "deuxième ligne\r\n"
)

INTERVIEW_SRT = (
    "1\r\n"
    "00:00:01,000 --> 00:00:04,500\r\n"
    "Je suis arrivée à Orly en <i>hiver</i> 1962.\r\n"
    "\r\n"
    "2\r\n"
    "00:00:03,000 --> 00:00:06,000 X1:10 X2:100 Y1:10 Y2:50\r\n"
    '<font color="#ffff00">Et votre mère ?</font> Fish & chips <3\r\n'
    "\r\n"
    "3\r\n"
    "00:00:12,000 --> 00:00:15,250\r\n"
    "قالت لي أمي: لا تنسي بلدك\r\n"
)


def test_a_webvtt_file_with_bom_crlf_notes_settings_and_overlaps_reads_every_cue():
    cues = parse(INTERVIEW_VTT.encode("utf-8"))
    assert [(c.start_ms, c.end_ms) for c in cues] == [(1000, 4500), (3000, 6000), (12000, 15250)]
    first, second, third = cues
    assert first.identifier == "intro" and first.settings == "align:start line:90%"
    assert plain_text(first.text) == "Je suis arrivée à Orly en hiver 1962."
    assert speaker(first.text) == "Fatima"
    assert plain_text(second.text) == "— Et votre mère ? & vos frères ?"
    assert plain_text(third.text) == "قالت لي أمي: لا تنسي بلدك deuxième ligne"
    assert third.start == 12.0


def test_an_srt_file_reads_the_same_words_and_drops_font_tags_and_coordinates():
    cues = parse(INTERVIEW_SRT.encode("utf-8"))
    assert [(c.start_ms, c.end_ms) for c in cues] == [(1000, 4500), (3000, 6000), (12000, 15250)]
    assert cues[0].text == "Je suis arrivée à Orly en <i>hiver</i> 1962."
    assert cues[1].text == "Et votre mère ? Fish &amp; chips &lt;3"
    assert plain_text(cues[1].text) == "Et votre mère ? Fish & chips <3"
    assert cues[1].settings == ""
    assert plain_text(cues[2].text) == "قالت لي أمي: لا تنسي بلدك"


def test_overlapping_cues_are_ordered_by_start_and_all_kept():
    source = "WEBVTT\n\n00:00:05.000 --> 00:00:09.000\nB\n\n00:00:01.000 --> 00:00:08.000\nA\n"
    assert [c.text for c in parse(source)] == ["A", "B"]


def test_webvtt_round_trip_keeps_times_text_settings_and_identifiers():
    cues = parse(INTERVIEW_VTT)
    written = to_webvtt(cues)
    assert written.startswith("WEBVTT\n\nintro\n00:00:01.000 --> 00:00:04.500 align:start")
    assert parse(written) == cues


def test_srt_round_trip_and_srt_to_webvtt_to_srt_keep_the_words():
    cues = parse(INTERVIEW_SRT)
    written = to_srt(cues)
    assert written.startswith("1\r\n00:00:01,000 --> 00:00:04,500\r\n")
    assert parse(written) == cues
    through_vtt = parse(to_webvtt(cues))
    assert parse(to_srt(through_vtt)) == cues


def test_voice_tags_become_a_speaker_prefix_in_srt():
    cues = parse("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Fatima>Bonjour à tous</v>\n")
    assert "Fatima: Bonjour à tous" in to_srt(cues)


def test_text_that_would_break_a_cue_is_escaped_when_written():
    cue = Cue(0, 1000, "a --> b\n\nc")
    again = parse(to_webvtt([cue]))
    assert len(again) == 1 and plain_text(again[0].text) == "a --> b c"


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nBonjour\n", 3, "is not a time"),
        ("WEBVTT\n\n00:00:05.000 --> 00:00:01.000\nBonjour\n", 3, "ends"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nun\n\nbonjour\n", 6, "expected a timing line"),
        (
            "WEBVTT\n\n00:01.000 --> 00:02.000\nun\n00:03.000 --> 00:04.000\ndeux\n",
            5,
            "blank line missing",
        ),
        ("WEBVTTX\n\n00:01.000 --> 00:02.000\nun\n", 1, "first line must be WEBVTT"),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nun\n\n2\n00:00:75,000 --> 00:00:80,000\nx\n",
            6,
            "up to 59",
        ),  # fmt: skip
        ("1\n00:00:01,000 --> 00:00:02,000\nun\n\nhello\nworld\n", 5, "expected a cue number"),
    ],
)
def test_bad_files_are_refused_with_the_line_to_fix(source, line, words):
    with pytest.raises(TimedTextError) as caught:
        parse(source)
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")


def test_a_file_that_is_not_utf8_is_refused_naming_the_line_not_guessed():
    source = "1\n00:00:01,000 --> 00:00:02,000\nJe suis arrivée\n".encode("cp1252")
    with pytest.raises(TimedTextError) as caught:
        parse(source)
    assert caught.value.line == 3 and "UTF-8" in str(caught.value)


def test_utf16_with_its_mark_is_read():
    source = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nété\n".encode("utf-16")
    assert plain_text(parse(source)[0].text) == "été"


def test_an_empty_file_or_one_without_cues_says_so():
    for source in (b"", b"WEBVTT\n\nNOTE nothing yet\n"):
        with pytest.raises(TimedTextError, match="no cue found"):
            parse(source)


def test_a_cue_right_after_the_signature_is_still_read():
    cues = parse("WEBVTT\n00:00:01.000 --> 00:00:02.000\nsans ligne vide\n")
    assert plain_text(cues[0].text) == "sans ligne vide"
