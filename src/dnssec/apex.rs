//! The records that publish a zone's keys: the DNSKEY RRset at the apex, the CDS and
//! CDNSKEY RRsets a parent may scan (RFC 7344, RFC 8078), and the DS the parent holds.
//!
//! Data only: the zone build adds these RRsets to the apex (and signs them with
//! `sign::sign_rrset`); which keys appear follows each key's timing at the given `now`.

use data_encoding::HEXUPPER;
use ring::digest;

use super::canon;
use super::key::ZoneKey;

/// DS digest type 2: SHA-256 (RFC 4509), the one registries expect.
pub const DIGEST_SHA256: u8 = 2;

/// The DS RDATA for a DNSKEY of `zone` (lower-case wire form) (RFC 4034 §5.1.4,
/// RFC 4509): key tag, algorithm, digest type 2, SHA-256 of the owner name and the
/// DNSKEY RDATA. CDS uses the same RDATA.
pub fn ds_rdata(zone: &[u8], dnskey: &[u8]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&zone.to_ascii_lowercase());
    ctx.update(dnskey);
    let digest = ctx.finish();
    let mut out = Vec::with_capacity(4 + 32);
    out.extend_from_slice(&super::key::key_tag(dnskey).to_be_bytes());
    out.push(dnskey[3]);
    out.push(DIGEST_SHA256);
    out.extend_from_slice(digest.as_ref());
    out
}

/// A DS (or CDS) RDATA in master-file text: `TAG ALG 2 HEX`.
pub fn ds_text(ds: &[u8]) -> String {
    format!(
        "{} {} {} {}",
        u16::from_be_bytes([ds[0], ds[1]]),
        ds[2],
        ds[3],
        HEXUPPER.encode(&ds[4..])
    )
}

/// The apex RRsets that publish the keys, each RDATA in wire form, in key order. Empty
/// sets are left out of the zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApexRecords {
    /// Every key published at `now` (pre-published, active and retiring keys alike).
    pub dnskey: Vec<Vec<u8>>,
    /// CDS (type 59): the DS RDATA of every key with the SEP flag synced at `now`.
    pub cds: Vec<Vec<u8>>,
    /// CDNSKEY (type 60): the DNSKEY RDATA of the same keys.
    pub cdnskey: Vec<Vec<u8>>,
}

/// The DNSKEY, CDS and CDNSKEY RRsets for a zone's keys at `now` (seconds since 1970),
/// following each key's timing: a key is in DNSKEY from Publish until Delete, and in
/// CDS/CDNSKEY from SyncPublish until SyncDelete while it is a published SEP key.
/// A key made by `keygen` is all three at once. The keys must all be of one zone.
pub fn apex_records(keys: &[ZoneKey], now: u64) -> ApexRecords {
    let mut records = ApexRecords::default();
    for key in keys {
        if !key.timing.is_published(now) {
            continue;
        }
        let dnskey = key.dnskey_rdata();
        if key.is_sep() && key.timing.is_synced(now) {
            records.cds.push(ds_rdata(key.zone(), &dnskey));
            records.cdnskey.push(dnskey.clone());
        }
        records.dnskey.push(dnskey);
    }
    records
}

/// The keys that sign at `now`: active by their timing. A zone with published keys but
/// none active cannot be signed; the caller reports that.
pub fn signing_keys(keys: &[ZoneKey], now: u64) -> Vec<&ZoneKey> {
    keys.iter().filter(|k| k.timing.is_active(now)).collect()
}

/// The DS record for the registrar, in master-file text: `example.com. IN DS TAG ALG 2 HEX`.
pub fn ds_record_text(key: &ZoneKey) -> String {
    format!(
        "{} IN DS {}",
        canon::name_to_text(key.zone()),
        ds_text(&ds_rdata(key.zone(), &key.dnskey_rdata()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::key::{Algorithm, KeyTiming, generate};

    #[test]
    fn ds_digest_matches_rfc4509s_example() {
        // RFC 4509 §2.3: dskey.example.com. DNSKEY 256 3 5 (AQOeiiR0GOMYkDshWoSKz9Xz...)
        let key = data_encoding::BASE64
            .decode(
                b"AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==",
            )
            .unwrap();
        let mut dnskey = vec![0x01, 0x00, 3, 5];
        dnskey.extend(key);
        let zone = canon::name_from_text("dskey.example.com.").unwrap();
        let ds = ds_rdata(&zone, &dnskey);
        assert_eq!(
            ds_text(&ds),
            "60485 5 2 D4B7D520E7BB5F0F67674A0CCEB1E3E0614B93C4F9E99B8383F6A1E4469DA50A"
        );
    }

    #[test]
    fn apex_records_follow_each_keys_timing() {
        let zone = canon::name_from_text("example.com.").unwrap();
        let t = 1_800_000_000;
        // a current key retiring, and a new one pre-published for a rollover
        let mut old = generate(&zone, Algorithm::EcdsaP256Sha256, t - 100_000).unwrap();
        old.timing.inactive = Some(t + 1000);
        old.timing.delete = Some(t + 2000);
        old.timing.sync_delete = Some(t + 500);
        let mut new = generate(&zone, Algorithm::EcdsaP256Sha256, t).unwrap();
        new.timing = KeyTiming {
            created: Some(t),
            publish: Some(t),
            activate: Some(t + 1000),
            sync_publish: Some(t + 500),
            ..KeyTiming::default()
        };
        let keys = [old, new];
        let tags = |set: &[Vec<u8>]| -> Vec<u16> {
            set.iter().map(|r| crate::dnssec::key::key_tag(r)).collect()
        };
        let cds_tags = |set: &[Vec<u8>]| -> Vec<u16> {
            set.iter()
                .map(|r| u16::from_be_bytes([r[0], r[1]]))
                .collect()
        };
        let (a, b) = (keys[0].tag(), keys[1].tag());
        // (now, DNSKEY tags, CDS tags, signing tags)
        type Row = (u64, Vec<u16>, Vec<u16>, Vec<u16>);
        let rows: [Row; 5] = [
            (t - 1, vec![a], vec![a], vec![a]),
            (t, vec![a, b], vec![a], vec![a]),
            (t + 500, vec![a, b], vec![b], vec![a]),
            (t + 1000, vec![a, b], vec![b], vec![b]),
            (t + 2000, vec![b], vec![b], vec![b]),
        ];
        for (now, dnskey, cds, signing) in rows {
            let apex = apex_records(&keys, now);
            assert_eq!(tags(&apex.dnskey), dnskey, "DNSKEY at {now}");
            assert_eq!(tags(&apex.cdnskey), cds, "CDNSKEY at {now}");
            assert_eq!(cds_tags(&apex.cds), cds, "CDS at {now}");
            let signers: Vec<u16> = signing_keys(&keys, now).iter().map(|k| k.tag()).collect();
            assert_eq!(signers, signing, "signing at {now}");
        }
        // the CDS is the DS of the same key
        let apex = apex_records(&keys, t);
        assert_eq!(apex.cds[0], ds_rdata(&zone, &keys[0].dnskey_rdata()));
        assert!(ds_record_text(&keys[0]).starts_with("example.com. IN DS "));
    }
}
