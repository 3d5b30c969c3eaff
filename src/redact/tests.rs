use proptest::prelude::*;

use super::*;

/// Secrets are built at run time, so that no scanner mistakes this file
/// for a leak.
fn repeat(unit: &str, len: usize) -> String {
    unit.chars().cycle().take(len).collect()
}

const SHA: &str = "3f786850e387550fdab836ed7e6dc881de23001b";
const UUID: &str = "0192f3a4-5b6c-7d8e-9f01-23456789abcd";
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk";

/// (rule, a text holding a secret, the secret) per built-in rule.
fn positives() -> Vec<(&'static str, String, String)> {
    let body = repeat("MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo", 64);
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n-----END RSA PRIVATE KEY-----");
    let aws_id = format!("AKIA{}", "Q3XZ7W2RT5YUP6LN");
    let aws_secret = repeat("wJalrXUtnFEMIK7MDENGbPxRfiCY9z/+", 40);
    let gcp = format!("AIza{}", repeat("SyD3kq9_x-Lm2Np7Rt", 35));
    let azure = repeat("Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA+/", 88);
    let azure_ad = format!("abc8Q~{}", repeat("x1Y2z3W4v5U6t7S8r9Q0p", 34));
    let ghp = format!("ghp_{}", repeat("a1B2c3D4e5F6", 36));
    let gho = format!("gho_{}", repeat("Z9y8X7w6V5u4", 36));
    let ghs = format!("ghs_{}", repeat("k3L4m5N6o7P8", 36));
    let ghr = format!("ghr_{}", repeat("q1W2e3R4t5Y6", 36));
    let pat = format!("github_pat_{}", repeat("11ABCDEFG0abcdefghij_", 82));
    let glpat = format!("glpat-{}", repeat("x7Yz9-Ab3Cd", 20));
    let ant = format!("sk-ant-api03-{}", repeat("Qw3rTy_uI0p-As", 95));
    let openai = format!("sk-proj-{}", repeat("Ab1Cd2Ef3Gh4", 48));
    let slack = format!("xoxb-{}-{}-{}", "1234567890123", "1234567890123", repeat("aB3dE5", 24));
    let xapp = format!("xapp-1-A0{}-{}-{}", "1234ABCD", "1234567890", repeat("ab12cd34", 64));
    let hook = format!("hooks.slack.com/services/{}", repeat("T000B000X", 44));
    let stripe = format!("sk_live_{}", repeat("4eC39HqLyjWDarjtT1zdp7dc", 24));
    let npm = format!("npm_{}", repeat("a8b7c6d5e4f3g2h1", 36));
    let pypi = format!("pypi-AgEIcHlwaS5vcmc{}", repeat("CJGM2ZjU0-YTc4_", 60));
    let jwt = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ{}.{}",
        repeat("zdWIiOiIxMjM0NTY3ODkw", 30),
        repeat("SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", 43)
    );
    let password = "s3cr3t-P4ss".to_owned();
    let bearer = repeat("mF_9.B5f-4.1JqM", 30);
    let generic = repeat("Hx8#kq2!Lm9@Zp4$", 24);
    vec![
        ("private-key", format!("cat id_rsa\n{pem}\ndone"), pem.clone()),
        ("aws-access-token", format!("aws_access_key_id = {aws_id}"), aws_id),
        ("aws-secret-access-key", format!("AWS_SECRET_ACCESS_KEY={aws_secret}\n"), aws_secret),
        ("gcp-api-key", format!("key={gcp}&q=1"), gcp),
        (
            "azure-storage-key",
            format!("DefaultEndpointsProtocol=https;AccountName=a;AccountKey={azure};"),
            azure,
        ),
        ("azure-ad-client-secret", format!("client_secret: {azure_ad}\n"), azure_ad),
        ("github-pat", format!("git clone https://x/{ghp}/r"), ghp),
        ("github-oauth", format!("token {gho}"), gho),
        ("github-app-token", format!("GH={ghs}"), ghs),
        ("github-refresh-token", format!("refresh {ghr}"), ghr),
        ("github-fine-grained-pat", format!("export T={pat}"), pat),
        ("gitlab-pat", format!("PRIVATE-TOKEN: {glpat}"), glpat),
        ("anthropic-api-key", format!("use {ant} now"), ant),
        ("openai-api-key", format!("client = OpenAI(api_key=\"{openai}\")"), openai),
        ("slack-token", format!("SLACK={slack}"), slack),
        ("slack-app-token", format!("app token {xapp}"), xapp),
        ("slack-webhook-url", format!("curl https://{hook}"), hook),
        ("stripe-access-token", format!("Stripe.api_key = '{stripe}'"), stripe),
        ("npm-access-token", format!("//registry.npmjs.org/:_authToken={npm}"), npm),
        ("pypi-upload-token", format!("password = {pypi}"), pypi),
        ("jwt", format!("Cookie: session={jwt}"), jwt),
        (
            "url-password",
            format!("DATABASE_URL=postgres://app:{password}@db.internal:5432/app"),
            password.clone(),
        ),
        (
            "connection-string-password",
            "Server=db;User Id=sa;Password=Tr0ub4dor&3;".to_owned(),
            "Tr0ub4dor&3".into(),
        ),
        ("bearer-token", format!("Authorization: Bearer {bearer}"), bearer),
        (
            "cli-secret-argument",
            "aider --openai-api-key sk-FAKE-SECRET-123 --model gpt-4o".into(),
            "sk-FAKE-SECRET-123".into(),
        ),
        ("generic-secret", format!("\"client_secret\": \"{generic}\""), generic),
    ]
}

/// (rule, a text that looks close but holds no secret) per built-in rule.
fn near_misses() -> Vec<(&'static str, String)> {
    vec![
        ("private-key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----".into()),
        ("aws-access-token", "the docs' key AKIAIOSFODNN7EXAMPLE".into()),
        ("aws-secret-access-key", format!("aws_secret_access_key_sha = {SHA}")),
        ("gcp-api-key", "AIzaShort".into()),
        ("azure-storage-key", "AccountKey=short".into()),
        ("azure-ad-client-secret", format!("session {UUID} Q~ here")),
        ("github-pat", format!("ghp_ followed by a sha {SHA}")),
        ("github-oauth", "gho_tooShort".into()),
        ("github-app-token", "ghs_".into()),
        ("github-refresh-token", "ghr_abc".into()),
        ("github-fine-grained-pat", "github_pat_short".into()),
        ("gitlab-pat", "glpat-short".into()),
        ("anthropic-api-key", "sk-ant-api03-".into()),
        ("openai-api-key", "sk-learn is a library; git checkout sk-branch".into()),
        ("slack-token", "xoxb-short".into()),
        ("slack-app-token", "xapp-".into()),
        ("slack-webhook-url", "hooks.slack.com/services/".into()),
        ("stripe-access-token", "sk_live_short".into()),
        ("npm-access-token", "npm_config_cache".into()),
        ("pypi-upload-token", "pypi-AgEIcHlwaS5vcmc".into()),
        ("jwt", format!("data:image/png;base64,{PNG}")),
        ("url-password", "https://user@example.com/x http://localhost:8080/a git@github.com:o/r.git".into()),
        ("connection-string-password", "Password=;".into()),
        ("bearer-token", "a Bearer token is sent".into()),
        ("cli-secret-argument", "claude --max-tokens 4096 --sort-key id".into()),
        ("generic-secret", format!("\"session_token_id\": \"{UUID}\", \"commit_key\": \"{SHA}\", \"input_tokens\": 12345")),
    ]
}

#[test]
fn every_builtin_rule_has_a_true_positive_and_a_near_miss() {
    let ids: Vec<&str> = BUILTIN.iter().map(|b| b.id).collect();
    let pos: Vec<&str> = positives().iter().map(|p| p.0).collect();
    let neg: Vec<&str> = near_misses().iter().map(|n| n.0).collect();
    assert_eq!(pos, ids);
    assert_eq!(neg, ids);
}

#[test]
fn true_positives_are_replaced_by_their_rules_marker() {
    let r = Redactor::builtin();
    for (rule, text, secret) in positives() {
        let out = r.text(&text);
        assert!(!out.contains(&secret), "{rule}: {secret:?} survived in {out:?}");
        assert!(out.contains(&marker(rule)), "{rule}: no marker in {out:?}");
    }
}

#[test]
fn near_misses_stay_as_they_are() {
    let r = Redactor::builtin();
    for (rule, text) in near_misses() {
        assert_eq!(r.text(&text), text, "{rule}");
    }
}

#[test]
fn shas_uuids_and_images_stay() {
    let r = Redactor::builtin();
    let line = format!(
        r#"{{"commit":"{SHA}","sessionId":"{UUID}","source":{{"type":"base64","media_type":"image/png","data":"{PNG}"}}}}"#
    );
    assert_eq!(r.jsonl(line.as_bytes()).unwrap(), line.as_bytes());
}

#[test]
fn context_around_a_secret_stays() {
    let r = Redactor::builtin();
    assert_eq!(
        r.text("postgres://app:hunter22@db:5432/x"),
        "postgres://app:[REDACTED:url-password]@db:5432/x"
    );
}

#[test]
fn argv_values_after_secret_flags_are_replaced() {
    let argv: Vec<String> =
        ["aider", "--openai-api-key", "abc", "--model", "gpt-4o", "--password=Zq8#mW2!xP"]
            .map(String::from)
            .into();
    let out = Redactor::builtin().argv(&argv);
    assert_eq!(
        out[..5],
        ["aider", "--openai-api-key", "[REDACTED:cli-secret-argument]", "--model", "gpt-4o"]
    );
    assert_eq!(out[5], "--password=[REDACTED:cli-secret-argument]");
}

#[test]
fn a_secret_in_escaped_json_keeps_the_line_valid() {
    let r = Redactor::builtin();
    let env = format!(
        "AWS_SECRET_ACCESS_KEY={}\nDB=postgres://u:pa55word@h/d\n",
        repeat("wJalrXUtnFEMIK7MDENGbPxRfiCY9z/+", 40)
    );
    let line = serde_json::to_string(&serde_json::json!({"type": "tool_result", "content": env})).unwrap();
    let out = r.jsonl(line.as_bytes()).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let content = parsed["content"].as_str().unwrap();
    assert!(content.contains("[REDACTED:aws-secret-access-key]"), "{content}");
    assert!(content.contains("[REDACTED:url-password]"), "{content}");
    assert!(!content.contains("wJalrX"), "{content}");
}

#[test]
fn a_match_that_ends_inside_an_escape_takes_the_whole_escape() {
    let user = UserRules {
        rules: vec![UserRule { id: "cut".into(), regex: r"secret=(.{3})".into() }],
        allow: vec![],
    };
    let r = Redactor::new(&user).unwrap();
    let line =
        serde_json::to_string(&serde_json::json!({"a": "secret=a\"bc", "b": "secret=\u{1}x"})).unwrap();
    let out = r.jsonl(line.as_bytes()).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(parsed["a"], "secret=[REDACTED:cut]bc");
    assert_eq!(parsed["b"], "secret=[REDACTED:cut]x");
}

#[test]
fn a_private_key_cut_short_is_redacted_up_to_its_last_line() {
    let body = repeat("MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo", 64);
    let text = format!("head -3 id_rsa\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n$ next command");
    assert_eq!(Redactor::builtin().text(&text), "head -3 id_rsa\n[REDACTED:private-key]\n$ next command");
}

#[test]
fn many_key_headers_cost_linear_time() {
    // Each header looks for its footer in a bounded window only.
    let text = "-----BEGIN RSA PRIVATE KEY-----\\nAAAAAAAAAAAAAAAAAAAA\\n".repeat(20_000);
    let line = format!("{{\"t\":\"{text}\"}}");
    let out = Redactor::builtin().jsonl(line.as_bytes()).unwrap();
    let expected = format!("{{\"t\":\"{}\"}}", "[REDACTED:private-key]\\n".repeat(20_000));
    assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
}

#[test]
fn not_utf8_is_not_text() {
    assert_eq!(Redactor::builtin().jsonl(b"{\"a\":\"\xff\"}\n"), Err(NotText));
    assert_eq!(Redactor::builtin().jsonl(b"bin\0ary"), Err(NotText));
}

#[test]
fn user_rules_and_allow_list() {
    let user = UserRules {
        rules: vec![UserRule { id: "internal-token".into(), regex: r"itk_([a-z0-9]{8})".into() }],
        allow: vec![format!("^ghp_{}$", repeat("a1B2c3D4e5F6", 36))],
    };
    let r = Redactor::new(&user).unwrap();
    assert_eq!(r.text("use itk_abcd1234 now"), "use itk_[REDACTED:internal-token] now");
    let allowed = format!("ghp_{}", repeat("a1B2c3D4e5F6", 36));
    assert_eq!(r.text(&allowed), allowed);
    let bad = UserRules { rules: vec![UserRule { id: "x".into(), regex: "(".into() }], allow: vec![] };
    assert!(Redactor::new(&bad).is_err());
    let bad_id = UserRules { rules: vec![UserRule { id: "a]b".into(), regex: "x".into() }], allow: vec![] };
    assert!(Redactor::new(&bad_id).is_err());
}

fn secretish() -> impl Strategy<Value = String> {
    let pieces: Vec<String> =
        positives().into_iter().map(|p| p.1).chain(near_misses().into_iter().map(|n| n.1)).collect();
    prop_oneof![prop::sample::select(pieces), "[ -~]{0,40}", "\\PC{0,20}", Just("\\\"\\n\\u0041".to_owned()),]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::collection::vec(secretish(), 1..4).prop_map(|parts| serde_json::Value::from(parts.join(" "))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::vec((secretish(), inner), 0..4)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn valid_jsonl_stays_valid_jsonl(lines in prop::collection::vec(json_value(), 1..6)) {
        let text: String = lines.iter().map(|v| format!("{v}\n")).collect();
        let out = Redactor::builtin().jsonl(text.as_bytes()).unwrap();
        let out = std::str::from_utf8(&out).unwrap();
        prop_assert_eq!(out.lines().count(), lines.len());
        for line in out.lines() {
            prop_assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "invalid: {}", line);
        }
    }
}

#[test]
fn log2_without_libm_matches_the_standard_one() {
    for k in -60..=60 {
        assert_eq!(super::log2(2f64.powi(k)), f64::from(k), "2^{k}");
    }
    let mut x = 1e-9;
    while x < 1e9 {
        let (ours, std) = (super::log2(x), x.log2());
        assert!((ours - std).abs() <= 4.0 * f64::EPSILON * std.abs().max(1.0), "{x}: {ours} vs {std}");
        x *= 1.0137;
    }
    for n in 1..=300u32 {
        for c in 1..=n {
            let p = f64::from(c) / f64::from(n);
            assert!(
                (super::log2(p) - p.log2()).abs() <= 4.0 * f64::EPSILON * p.log2().abs().max(1.0),
                "{c}/{n}"
            );
        }
    }
}

#[test]
fn a_redactor_that_met_no_secret_compiled_no_rule() {
    let r = Redactor::new(&UserRules::default()).unwrap();
    let line =
        format!(r#"{{"type":"user","commit":"{SHA}","sessionId":"{UUID}","text":"make the tests pass"}}"#);
    assert_eq!(r.jsonl(line.as_bytes()).unwrap(), line.as_bytes());
    assert_eq!(r.argv(&["claude".into(), "--model".into(), "opus".into()]), ["claude", "--model", "opus"]);
    assert_eq!(r.text("fix the flaky test in src/redact"), "fix the flaky test in src/redact");
    let compiled: Vec<&str> =
        r.rules.iter().filter(|rule| rule.regex.get().is_some()).map(|rule| rule.id.as_str()).collect();
    assert_eq!(compiled, Vec::<&str>::new());
    // A secret compiles its own rule (and its allow-list), and no other.
    let text = format!("the key id is AKIA{} today", "Q3XZ7W2RT5YUP6LN");
    assert_ne!(r.text(&text), text);
    let compiled: Vec<&str> =
        r.rules.iter().filter(|rule| rule.regex.get().is_some()).map(|rule| rule.id.as_str()).collect();
    assert_eq!(compiled, ["aws-access-token"]);
    assert!(r.rules.iter().all(|rule| {
        rule.allow.as_ref().is_none_or(|(_, a)| a.get().is_some() == (rule.id == "aws-access-token"))
    }));
}

#[test]
fn the_set_loosens_counted_repetitions_outside_classes_and_escapes() {
    assert_eq!(loosened(r"a{3,256}[x{2,9}\]{4}]\{4,5}b{20}c{0,3}?"), r"a{3,}[x{2,9}\]{4}]\{4,5}b{16,}c{0,}?");
}

proptest! {
    #[test]
    fn the_set_names_every_rule_that_matches(text in secretish()) {
        let r = Redactor::builtin();
        let named = r.set.matches(text.as_bytes());
        for (index, rule) in BUILTIN.iter().enumerate() {
            let exact = compile(rule.pattern).unwrap();
            prop_assert!(!exact.is_match(text.as_bytes()) || named.matched(index), "{}: {:?}", rule.id, text);
        }
    }
}
