//! The handshake of the msgpack dialect (DESIGN §10), classified from the
//! bytes a peer sends: NEO/py's own, another version, not NEO at all, or
//! not all there yet.

use neonet::neopy::*;

/// What a peer's stream says once it ended after `sent`: the check of the
/// bytes, byte by byte as they would arrive, stopping at the first
/// mismatch (the handshake is decided as soon as the bytes show it).
fn classify(sent: &[u8]) -> Result<HandshakeProgress, HandshakeMismatch> {
    let mut last = check_handshake(&[]);
    for k in 1..=sent.len().min(HANDSHAKE.len()) {
        last = check_handshake(&sent[..k]);
        if !matches!(last, Ok(HandshakeProgress::Incomplete { .. })) {
            break;
        }
    }
    last
}

#[test]
fn neopys_own_handshake() {
    assert_eq!(HANDSHAKE, [0x92, 0xa3, 0x4e, 0x45, 0x4f, 0x05]);
    assert_eq!(classify(&HANDSHAKE), Ok(HandshakeProgress::Done));
    // what follows the handshake is the stream's, not the handshake's
    let then_a_packet = [&HANDSHAKE[..], &[0x93, 0x00, 0x02, 0x90]].concat();
    assert_eq!(check_handshake(&then_a_packet), Ok(HandshakeProgress::Done));
}

#[test]
fn another_version_says_both() {
    // msgpack of ["NEO", 4]
    let err = classify(&[0x92, 0xa3, b'N', b'E', b'O', 0x04]).unwrap_err();
    assert_eq!(err, HandshakeMismatch::VersionMismatch { peer: 4, ours: 5 });
    assert_eq!(
        err.to_string(),
        "protocol version mismatch: peer = 4 ; our side = 5"
    );
}

#[test]
fn http_is_not_neo_from_its_first_byte() {
    let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let err = check_handshake(http).unwrap_err();
    assert_eq!(
        err,
        HandshakeMismatch::NotNeo {
            got: b"GET / ".to_vec()
        }
    );
    assert_eq!(err.to_string(), "not a NEO stream: got 474554202f20");
    // one byte is enough to tell
    assert_eq!(
        check_handshake(b"G"),
        Err(HandshakeMismatch::NotNeo { got: b"G".to_vec() })
    );
}

#[test]
fn protocol_6s_version_word_is_the_other_dialect() {
    // a listener tells the dialects apart by the first byte
    let word = 6u32.to_be_bytes();
    assert_ne!(word[0], HANDSHAKE_FIRST_BYTE);
    assert_eq!(
        check_handshake(&word),
        Err(HandshakeMismatch::NotNeo { got: word.to_vec() })
    );
}

#[test]
fn three_bytes_then_eof_is_incomplete() {
    // the start of a NEO handshake: not wrong, but 3 bytes are missing
    // (the caller, at end of stream, reports an unexpected EOF)
    assert_eq!(
        classify(&HANDSHAKE[..3]),
        Ok(HandshakeProgress::Incomplete { missing: 3 })
    );
    assert_eq!(
        classify(&[]),
        Ok(HandshakeProgress::Incomplete { missing: 6 })
    );
    // 3 bytes that are not NEO's are a mismatch already
    assert_eq!(
        classify(b"GET"),
        Err(HandshakeMismatch::NotNeo { got: b"G".to_vec() })
    );
    // nor is a different 5th byte a version mismatch: only the 6th is
    assert_eq!(
        classify(&[0x92, 0xa3, b'N', b'E', b'X', 0x05]),
        Err(HandshakeMismatch::NotNeo {
            got: vec![0x92, 0xa3, b'N', b'E', b'X']
        })
    );
}
