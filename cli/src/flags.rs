//! The option flags of the CLI, made from the core's option schema
//! (`natsbridge::schema`): one `--kebab-name` flag per option of a scope,
//! its help the schema's doc, default and unit, its value converted by the
//! option's kind and applied by name (`SendOptions::set`, ...). An option
//! added to the schema becomes a flag with no edit here.
//!
//! What the CLI adds of its own: a few short aliases and environment
//! variables of earlier releases (`-s`/`--server`, `--creds`, `NATS_TOKEN`,
//! ...), `--strict-addresses`, and the options it leaves out
//! ([`NOT_FLAGS`], with the reason; `tests/options.rs` checks both lists
//! against the schema).

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use natsbridge::schema::{self, DefaultValue, Kind, OptionSpec, OptionValue, Scope};
use natsbridge::{ConnectOptions, ReceiveOptions, SendOptions};

/// Options of the schema that are not CLI flags, and why.
pub const NOT_FLAGS: &[(Scope, &str, &str)] = &[
    (
        Scope::Connect,
        "fileserver_url",
        "every command that sends takes the send option --fileserver-url",
    ),
    (
        Scope::Connect,
        "fileserver_token",
        "every command that sends takes the send option --fileserver-token",
    ),
    (
        Scope::Send,
        "fileserver_upload_handler",
        "a function: the CLI uploads to --fileserver-url or the Object Store",
    ),
    (
        Scope::Receive,
        "fileserver_download_handler",
        "a function: the CLI fetches with the built-in HTTP and Object Store fetch",
    ),
    (
        Scope::Consume,
        "filter_subject",
        "the SUBJECT argument of listen is the filter of a --stream consumer",
    ),
];

/// Aliases and environment variables the CLI keeps for some flags.
fn extras(
    scope: Scope,
    name: &str,
) -> (&'static [&'static str], Option<char>, Option<&'static str>) {
    match (scope, name) {
        (Scope::Connect, "nats_url") => (&["server"], Some('s'), None),
        (Scope::Connect, "token") => (&[], None, Some("NATS_TOKEN")),
        (Scope::Connect, "credentials_file") => (&["creds"], None, Some("NATS_CREDS")),
        (Scope::Connect, "tls_ca_file") => (&["tls-ca"], None, None),
        (Scope::Send, "fileserver_url") => (&[], None, Some("NATSBRIDGE_FILESERVER_URL")),
        (Scope::Send, "fileserver_token") => (&[], None, Some("NATSBRIDGE_FILESERVER_TOKEN")),
        (Scope::Receive, "allowed_origins") => (&["allow-origin"], None, None),
        (Scope::Receive, "store_tokens") => (&["store-token"], None, None),
        _ => (&[], None, None),
    }
}

/// Whether the option is a flag of the CLI.
pub fn is_flag(spec: &OptionSpec) -> bool {
    !NOT_FLAGS
        .iter()
        .any(|(scope, name, _)| *scope == spec.scope && *name == spec.name)
}

/// The flag of an option: `size_threshold` -> `size-threshold`.
pub fn flag_name(spec: &OptionSpec) -> String {
    spec.name.replace('_', "-")
}

fn arg_id(spec: &OptionSpec) -> String {
    format!("{}.{}", spec.scope.as_str(), spec.name)
}

/// The default as the help shows it: `[default: 100 ms]`.
pub fn default_text(spec: &OptionSpec) -> String {
    match spec.default {
        DefaultValue::Unset => "unset".to_owned(),
        DefaultValue::Derived(how) => how.to_owned(),
        DefaultValue::Bool(value) => value.to_string(),
        DefaultValue::Number(value) => match spec.kind.unit() {
            Some(unit) => format!("{value} {unit}"),
            None => value.to_string(),
        },
        DefaultValue::Text(value) => format!("{value:?}"),
    }
}

/// A duration: milliseconds, or a number with `ms`, `s`, `m` or `h`.
pub fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (e.g. 250, 250ms, 5s, 2m)"))?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        other => return Err(format!("unknown unit '{other}' (ms, s, m or h)")),
    };
    let ms = (number * scale).round();
    if !ms.is_finite() || ms < 0.0 || ms > u64::MAX as f64 {
        return Err(format!("'{text}' is out of range"));
    }
    Ok(ms as u64)
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((origin, token)) if !origin.is_empty() => Ok((origin.to_owned(), token.to_owned())),
        _ => Err("expected ORIGIN=TOKEN".to_owned()),
    }
}

fn parse_object(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("expected a JSON object".to_owned()),
        Err(err) => Err(format!("not JSON: {err}")),
    }
}

fn arg_for(spec: &'static OptionSpec) -> Arg {
    let (aliases, short, env) = extras(spec.scope, spec.name);
    let unit = match spec.kind {
        Kind::Millis => " Milliseconds, or with a unit: 250ms, 5s, 2m.",
        Kind::Bytes => " Bytes.",
        _ => "",
    };
    let mut arg = Arg::new(arg_id(spec))
        .long(flag_name(spec))
        .help(format!(
            "{}{unit} [default: {}]",
            spec.doc,
            default_text(spec)
        ))
        .visible_aliases(aliases.iter().copied());
    if let Some(short) = short {
        arg = arg.short(short);
    }
    if let Some(env) = env {
        arg = arg.env(env).hide_env_values(true);
    }
    match spec.kind {
        Kind::Bool => arg
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_name("BOOL")
            .value_parser(clap::value_parser!(bool)),
        Kind::Count | Kind::Bytes => arg.value_name("N").value_parser(clap::value_parser!(u64)),
        Kind::Millis => arg.value_name("DURATION").value_parser(parse_millis),
        Kind::TextList => arg.value_name("VALUE").action(ArgAction::Append),
        Kind::TokenMap => arg
            .value_name("ORIGIN=TOKEN")
            .action(ArgAction::Append)
            .value_parser(parse_pair),
        Kind::Object => arg.value_name("JSON").value_parser(parse_object),
        Kind::Secret => arg.value_name("SECRET"),
        Kind::Url => arg.value_name("URL"),
        Kind::Path => arg.value_name("PATH"),
        Kind::Text | Kind::Callback => arg.value_name("TEXT"),
    }
}

/// The flags of one scope, and the values given for them, in schema order.
#[derive(Debug, Clone, Default)]
pub struct OptionFlags {
    values: Vec<(&'static str, OptionValue)>,
}

impl OptionFlags {
    fn augment(scope: Scope, mut command: Command) -> Command {
        for spec in schema::of(scope).filter(|spec| is_flag(spec)) {
            command = command.arg(arg_for(spec));
        }
        if scope == Scope::Receive {
            command = command.arg(
                Arg::new("receive.strict_addresses")
                    .long("strict-addresses")
                    .action(ArgAction::SetTrue)
                    .help(
                        "Only fetch links from public addresses: the same as \
                         --allow-private-addresses=false (loopback, private and every other \
                         special-use range refused; link-local and metadata addresses are \
                         refused either way)",
                    ),
            );
        }
        command
    }

    fn read(scope: Scope, matches: &ArgMatches) -> OptionFlags {
        let mut values = Vec::new();
        for spec in schema::of(scope).filter(|spec| is_flag(spec)) {
            let id = arg_id(spec);
            let value = match spec.kind {
                Kind::Bool => matches.get_one::<bool>(&id).map(|b| OptionValue::Bool(*b)),
                Kind::Count | Kind::Bytes | Kind::Millis => {
                    matches.get_one::<u64>(&id).map(|n| OptionValue::Number(*n))
                }
                Kind::TextList => matches
                    .get_many::<String>(&id)
                    .map(|items| OptionValue::TextList(items.cloned().collect())),
                Kind::TokenMap => matches
                    .get_many::<(String, String)>(&id)
                    .map(|pairs| OptionValue::TokenMap(pairs.cloned().collect())),
                Kind::Object => matches
                    .get_one::<serde_json::Map<String, serde_json::Value>>(&id)
                    .map(|map| OptionValue::Object(map.clone())),
                _ => matches
                    .get_one::<String>(&id)
                    .map(|s| OptionValue::Text(s.clone())),
            };
            if let Some(value) = value {
                values.push((spec.name, value));
            }
        }
        if scope == Scope::Receive && matches.get_flag("receive.strict_addresses") {
            values.push(("allow_private_addresses", OptionValue::Bool(false)));
        }
        OptionFlags { values }
    }

    /// The value given for `name`, if any.
    pub fn get(&self, name: &str) -> Option<&OptionValue> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Every given value applied to `options` with `set`.
    fn apply<T>(
        &self,
        options: T,
        set: impl Fn(T, &str, OptionValue) -> natsbridge::Result<T>,
    ) -> natsbridge::Result<T> {
        self.values
            .iter()
            .try_fold(options, |options, (name, value)| {
                set(options, name, value.clone())
            })
    }
}

macro_rules! scope_flags {
    ($($(#[$doc:meta])* $name:ident => $scope:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name(pub OptionFlags);

        impl FromArgMatches for $name {
            fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
                Ok($name(OptionFlags::read(Scope::$scope, matches)))
            }
            fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
                self.0 = OptionFlags::read(Scope::$scope, matches);
                Ok(())
            }
        }

        impl Args for $name {
            fn augment_args(command: Command) -> Command {
                OptionFlags::augment(Scope::$scope, command)
            }
            fn augment_args_for_update(command: Command) -> Command {
                OptionFlags::augment(Scope::$scope, command)
            }
        }
    )*};
}

scope_flags! {
    /// The connect options of the schema as flags.
    ConnectFlags => Connect;
    /// The send options of the schema as flags.
    SendFlags => Send;
    /// The receive options of the schema as flags.
    ReceiveFlags => Receive;
    /// The subscribe options of the schema as flags.
    SubscribeFlags => Subscribe;
    /// The JetStream consumer options of the schema as flags (`listen --stream`).
    ConsumeFlags => Consume;
}

impl ConsumeFlags {
    /// Whether a JetStream consumer was asked for (`--stream` or `--durable`).
    pub fn wanted(&self) -> bool {
        self.0.get("stream").is_some() || self.0.get("durable").is_some()
    }

    /// The consumer options given as flags, filtered by `subject` (all of
    /// the stream for `>`), with the receive options.
    pub fn options(
        &self,
        subject: &str,
        receive: ReceiveOptions,
    ) -> natsbridge::Result<natsbridge::jetstream::ConsumerOptions> {
        let mut options =
            natsbridge::jetstream::ConsumerOptions::ephemeral().receive_options(receive);
        if subject != ">" {
            options = options.set("filter_subject", OptionValue::Text(subject.to_owned()))?;
        }
        self.0
            .apply(options, natsbridge::jetstream::ConsumerOptions::set)
    }
}

impl ConnectFlags {
    /// The connect options: the connection name `natsbridge-cli` unless
    /// `--name` is given, the NATS URL from `--nats-url`, else `$NATS_URL`,
    /// else the default (resolved by the core).
    pub fn options(&self) -> natsbridge::Result<ConnectOptions> {
        let given = match self.0.get("nats_url") {
            Some(OptionValue::Text(url)) => Some(url.as_str()),
            _ => None,
        };
        let options =
            ConnectOptions::new(ConnectOptions::resolve_nats_url(given)).name("natsbridge-cli");
        self.0.apply(options, ConnectOptions::set)
    }
}

impl SendFlags {
    /// The send options given as flags (the core's defaults for the rest).
    pub fn options(&self) -> natsbridge::Result<SendOptions> {
        self.0.apply(SendOptions::new(), SendOptions::set)
    }
}

impl ReceiveFlags {
    /// The receive options given as flags (the core's defaults for the rest).
    pub fn options(&self) -> natsbridge::Result<ReceiveOptions> {
        self.0.apply(ReceiveOptions::new(), ReceiveOptions::set)
    }

    /// `--save-dir`, which the CLI also writes direct payloads into.
    pub fn save_dir(&self) -> Option<std::path::PathBuf> {
        match self.0.get("save_dir") {
            Some(OptionValue::Text(dir)) => Some(dir.into()),
            _ => None,
        }
    }
}

impl SubscribeFlags {
    /// `--queue`, the queue group to join.
    pub fn queue(&self) -> Option<&str> {
        match self.0.get("queue") {
            Some(OptionValue::Text(group)) => Some(group),
            _ => None,
        }
    }

    /// `--concurrent-receives` (the core's default when not given).
    pub fn concurrent_receives(&self) -> natsbridge::Result<usize> {
        match self.0.get("concurrent_receives") {
            Some(OptionValue::Number(0)) => Err(natsbridge::Error::new(
                natsbridge::ErrorKind::InvalidArgument,
                "--concurrent-receives must be at least 1",
            )),
            Some(OptionValue::Number(n)) => Ok(usize::try_from(*n).unwrap_or(usize::MAX)),
            _ => Ok(schema::DEFAULT_CONCURRENT_RECEIVES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_milliseconds_unless_a_unit_is_given() {
        assert_eq!(parse_millis("250"), Ok(250));
        assert_eq!(parse_millis("250ms"), Ok(250));
        assert_eq!(parse_millis("1.5s"), Ok(1500));
        assert_eq!(parse_millis("2m"), Ok(120_000));
        assert!(parse_millis("-1").is_err());
        assert!(parse_millis("5 parsecs").is_err());
        assert!(parse_millis("").is_err());
    }

    /// The parity test of the CLI: reads the published schema
    /// (`docs/options.json`) and checks that every option of the scopes a
    /// command takes is a flag of it, named `--<kebab-name>`, whose help
    /// states the schema's default and unit; the options that are not flags
    /// are exactly [`NOT_FLAGS`].
    #[test]
    fn every_option_of_the_published_schema_is_a_flag_of_its_commands() {
        use clap::CommandFactory;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/options.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cli = crate::Cli::command();
        // clap's own consistency checks (duplicate flags, ids, shorts), which
        // a release build does not run by itself.
        cli.clone().debug_assert();
        let commands: [(&str, &[&str]); 4] = [
            ("send", &["connect", "send"]),
            ("listen", &["connect", "receive", "subscribe", "consume"]),
            ("request", &["connect", "send", "receive"]),
            ("respond", &["connect", "send", "receive", "subscribe"]),
        ];
        let mut not_flags = Vec::new();
        for option in schema["options"].as_array().unwrap() {
            let (name, scope) = (
                option["name"].as_str().unwrap(),
                option["scope"].as_str().unwrap(),
            );
            let spec = schema::OPTIONS
                .iter()
                .find(|o| o.name == name && o.scope.as_str() == scope)
                .unwrap_or_else(|| panic!("{scope} option {name} is not in the core's table"));
            if !is_flag(spec) {
                not_flags.push((scope, name));
                continue;
            }
            let flag = name.replace('_', "-");
            for (command, scopes) in commands {
                if !scopes.contains(&scope) {
                    continue;
                }
                let sub = cli.find_subcommand(command).unwrap();
                let arg = sub
                    .get_arguments()
                    .find(|a| a.get_long() == Some(flag.as_str()))
                    .unwrap_or_else(|| panic!("natsbridge {command} has no --{flag}"));
                let help = arg.get_help().unwrap().to_string();
                let default = match &option["default"] {
                    serde_json::Value::Null => "unset".to_owned(),
                    serde_json::Value::Object(derived) => {
                        derived["derived"].as_str().unwrap().to_owned()
                    }
                    serde_json::Value::String(text) => format!("{text:?}"),
                    other => match option["unit"].as_str() {
                        Some(unit) => format!("{other} {unit}"),
                        None => other.to_string(),
                    },
                };
                assert!(
                    help.contains(&format!("[default: {default}]")),
                    "natsbridge {command} --{flag}: help {help:?} lacks the default {default}"
                );
                if option["kind"] == "milliseconds" {
                    assert!(help.contains("Milliseconds"), "--{flag}: {help}");
                }
            }
        }
        let mut expected: Vec<(&str, &str)> = NOT_FLAGS
            .iter()
            .map(|(scope, name, _)| (scope.as_str(), *name))
            .collect();
        expected.sort();
        not_flags.sort();
        assert_eq!(not_flags, expected);
    }

    #[test]
    fn not_flags_name_options_of_the_schema() {
        for (scope, name, reason) in NOT_FLAGS {
            assert!(schema::find(*scope, name).is_some(), "{name}");
            assert!(!reason.is_empty());
        }
    }
}
