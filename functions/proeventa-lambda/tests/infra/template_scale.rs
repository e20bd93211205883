//! The template's scale settings, read from `infra/template.yaml` with its conditions evaluated for
//! given parameters: every function that may use PostgreSQL gets the connection budget, the RDS
//! Proxy and its wiring are there exactly when `DatabaseProxy` asks for them, and `LambdaCompute`
//! puts the functions on a capacity provider or leaves them on classic Lambda.

use std::collections::BTreeMap;

use crate::common::template;
use proeventa_lambda::LAMBDA_DATABASE_MAX_CONNECTIONS;
use serde_yaml::Value as Yaml;
use serde_yaml::value::{Tag, TaggedValue};

/// Parameter values for one deployment: the given ones, the template's defaults for the rest.
fn parameters(template: &Yaml, given: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for (name, parameter) in template["Parameters"].as_mapping().expect("Parameters") {
        let default = match &parameter["Default"] {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            _ => String::new(),
        };
        values.insert(name.as_str().expect("a name").to_owned(), default);
    }
    for (name, value) in given {
        assert!(values.contains_key(*name), "the template has no parameter {name}");
        values.insert((*name).to_owned(), (*value).to_owned());
    }
    values
}

/// A CloudFormation function (`!Ref`, `!If`, ...) as its tag, `!` included, and its argument.
fn tagged(value: &Yaml) -> Option<(String, &Yaml)> {
    match value {
        Yaml::Tagged(t) => Some((t.tag.to_string(), &t.value)),
        _ => None,
    }
}

/// The value of a scalar operand of `!Equals`: a literal or a parameter's `!Ref`.
fn operand(value: &Yaml, params: &BTreeMap<String, String>) -> String {
    let function = tagged(value);
    match (function.as_ref().map(|(tag, arg)| (tag.as_str(), *arg)), value) {
        (Some(("!Ref", Yaml::String(name))), _) => {
            params.get(name).cloned().unwrap_or_else(|| panic!("no parameter {name}"))
        }
        (Some(("!Join", args)), _) => {
            let args = args.as_sequence().expect("!Join [sep, list]");
            let list = match tagged(&args[1]).as_ref().map(|(tag, arg)| (tag.as_str(), *arg)) {
                Some(("!Ref", Yaml::String(name))) => params[name].clone(),
                _ => panic!("unexpected !Join operand {:?}", args[1]),
            };
            list.split(',').collect::<Vec<_>>().join(args[0].as_str().expect("a separator"))
        }
        (None, Yaml::String(s)) => s.clone(),
        (None, Yaml::Number(n)) => n.to_string(),
        _ => panic!("unexpected operand {value:?}"),
    }
}

/// A condition of the template, evaluated for these parameters.
fn condition(template: &Yaml, name: &str, params: &BTreeMap<String, String>) -> bool {
    let expr = &template["Conditions"][name];
    assert!(!expr.is_null(), "the template has no condition {name}");
    eval(template, expr, params)
}

fn eval(template: &Yaml, expr: &Yaml, params: &BTreeMap<String, String>) -> bool {
    let (tag, args) = tagged(expr).unwrap_or_else(|| panic!("not a condition function: {expr:?}"));
    let args_list = || args.as_sequence().expect("a list of operands");
    match tag.as_str() {
        "!Equals" => operand(&args_list()[0], params) == operand(&args_list()[1], params),
        "!Not" => !eval(template, &args_list()[0], params),
        "!And" => args_list().iter().all(|a| eval(template, a, params)),
        "!Or" => args_list().iter().any(|a| eval(template, a, params)),
        "!Condition" => condition(template, args.as_str().expect("a condition name"), params),
        other => panic!("unexpected condition function {other}"),
    }
}

/// A value with its `!If`s taken as these parameters choose; `None` for `AWS::NoValue`.
fn resolve(template: &Yaml, value: &Yaml, params: &BTreeMap<String, String>) -> Option<Yaml> {
    let function = tagged(value);
    match function.as_ref().map(|(tag, arg)| (tag.as_str(), *arg)) {
        Some(("!If", args)) => {
            let args = args.as_sequence().expect("!If [condition, then, else]");
            let chosen = if condition(template, args[0].as_str().expect("a condition name"), params) {
                &args[1]
            } else {
                &args[2]
            };
            resolve(template, chosen, params)
        }
        Some(("!Ref", Yaml::String(name))) if name == "AWS::NoValue" => None,
        _ => Some(value.clone()),
    }
}

/// The logical ids of the resources this deployment creates.
fn resources(template: &Yaml, params: &BTreeMap<String, String>) -> Vec<String> {
    let mut ids = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().expect("Resources") {
        let present = match resource["Condition"].as_str() {
            Some(name) => condition(template, name, params),
            None => true,
        };
        if present {
            ids.push(id.as_str().expect("a logical id").to_owned());
        }
    }
    ids
}

fn functions(template: &Yaml) -> Vec<(String, Yaml)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, r)| (id.as_str().expect("a logical id").to_owned(), r.clone()))
        .collect()
}

/// A function's environment variable as SAM deploys it: its own, else the Globals' one.
fn env_var(template: &Yaml, function: &Yaml, name: &str) -> Yaml {
    let own = &function["Properties"]["Environment"]["Variables"][name];
    if own.is_null() { template["Globals"]["Function"]["Environment"]["Variables"][name].clone() } else { own.clone() }
}

fn reference(name: &str) -> Yaml {
    Yaml::Tagged(Box::new(TaggedValue { tag: Tag::new("Ref"), value: Yaml::String(name.to_owned()) }))
}

fn get_att(path: &str) -> Yaml {
    Yaml::Tagged(Box::new(TaggedValue { tag: Tag::new("GetAtt"), value: Yaml::String(path.to_owned()) }))
}

const PROXY_RESOURCES: [&str; 3] = ["DatabaseProxyRole", "DatabaseProxyInstance", "DatabaseProxyTargetGroup"];

/// Every function is given `DATABASE_URL`, so every one may use PostgreSQL: each gets the pool
/// size from the `DatabasePoolSize` parameter, whose default is the functions' own default.
#[test]
fn every_function_that_may_use_postgresql_gets_the_connection_budget() {
    let template = template();
    let functions = functions(&template);
    assert!(functions.len() >= 9, "the template's functions: {}", functions.len());
    for (id, function) in &functions {
        assert!(!env_var(&template, function, "DATABASE_URL").is_null(), "{id} is given no DATABASE_URL");
        assert_eq!(
            env_var(&template, function, "DATABASE_MAX_CONNECTIONS"),
            reference("DatabasePoolSize"),
            "{id}'s pool size is the DatabasePoolSize parameter"
        );
    }
    let pool = &template["Parameters"]["DatabasePoolSize"];
    assert_eq!(pool["Default"].as_u64().map(|n| n.to_string()).as_deref(), Some(LAMBDA_DATABASE_MAX_CONNECTIONS));
    assert_eq!(pool["MinValue"].as_u64(), Some(1));
}

#[test]
fn without_the_proxy_parameter_there_is_no_proxy_and_the_functions_use_database_url() {
    let template = template();
    for given in [&[][..], &[("DatabaseUrl", "postgres://db.internal/proeventa")][..]] {
        let params = parameters(&template, given);
        let present = resources(&template, &params);
        for id in PROXY_RESOURCES {
            assert!(!present.contains(&id.to_owned()), "{id} is created without DatabaseProxy=rds-proxy");
        }
        let url = resolve(&template, &env_var(&template, &functions(&template)[0].1, "DATABASE_URL"), &params);
        let expected = if given.is_empty() { "dynamodb://" } else { "DatabaseUrl" };
        assert!(format!("{url:?}").contains(expected), "DATABASE_URL {url:?} for {given:?}");
        let password = resolve(&template, &env_var(&template, &functions(&template)[0].1, "PGPASSWORD"), &params);
        assert_eq!(password, None, "no PGPASSWORD without the proxy");
    }
}

#[test]
fn with_the_proxy_parameter_the_proxy_its_secret_and_the_functions_are_wired() {
    let template = template();
    let params = parameters(
        &template,
        &[
            ("DatabaseProxy", "rds-proxy"),
            ("DatabaseInstanceId", "proeventa-db"),
            ("DatabaseSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:proeventa-db-AbCdEf"),
            ("VpcSubnetIds", "subnet-0a,subnet-0b"),
            ("VpcSecurityGroupIds", "sg-0a"),
        ],
    );
    let present = resources(&template, &params);
    for id in PROXY_RESOURCES {
        assert!(present.contains(&id.to_owned()), "{id} is missing with DatabaseProxy=rds-proxy");
    }
    let resources = &template["Resources"];

    let proxy = &resources["DatabaseProxyInstance"];
    assert_eq!(proxy["Type"].as_str(), Some("AWS::RDS::DBProxy"));
    let props = &proxy["Properties"];
    assert_eq!(props["EngineFamily"].as_str(), Some("POSTGRESQL"));
    assert_eq!(props["RequireTLS"].as_bool(), Some(true));
    assert_eq!(props["RoleArn"], get_att("DatabaseProxyRole.Arn"));
    assert_eq!(props["VpcSubnetIds"], reference("VpcSubnetIds"));
    let auth = &props["Auth"][0];
    assert_eq!(auth["AuthScheme"].as_str(), Some("SECRETS"));
    assert_eq!(auth["SecretArn"], reference("DatabaseSecretArn"));

    let group = &resources["DatabaseProxyTargetGroup"];
    assert_eq!(group["Type"].as_str(), Some("AWS::RDS::DBProxyTargetGroup"));
    assert_eq!(group["Properties"]["DBProxyName"], reference("DatabaseProxyInstance"));
    assert_eq!(group["Properties"]["DBInstanceIdentifiers"][0], reference("DatabaseInstanceId"));

    // The proxy's role may read that one secret, and nothing else.
    let role = &resources["DatabaseProxyRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"].as_str(),
        Some("rds.amazonaws.com")
    );
    let statements = role["Policies"][0]["PolicyDocument"]["Statement"].as_sequence().expect("statements");
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Action"].as_sequence().map(Vec::len), Some(1));
    assert_eq!(statements[0]["Action"][0].as_str(), Some("secretsmanager:GetSecretValue"));
    assert!(format!("{:?}", statements[0]["Resource"]).contains("${DatabaseSecretArn}"));

    // Every function connects to the proxy, as the secret's user, with TLS and its password.
    for (id, function) in functions(&template) {
        let url = resolve(&template, &env_var(&template, &function, "DATABASE_URL"), &params).expect("a DATABASE_URL");
        let (tag, text) = tagged(&url).unwrap_or_else(|| panic!("{id}: DATABASE_URL {url:?} is not a !Sub"));
        let text = text.as_str().expect("a !Sub string");
        assert_eq!(tag.as_str(), "!Sub");
        assert!(text.starts_with("postgres://"), "{id}: {text}");
        assert!(text.contains("${DatabaseProxyInstance.Endpoint}"), "{id}: {text}");
        assert!(text.contains("SecretString:username"), "{id}: {text}");
        assert!(text.contains("sslmode=require"), "{id}: {text}");
        let password = resolve(&template, &env_var(&template, &function, "PGPASSWORD"), &params).expect("PGPASSWORD");
        assert!(format!("{password:?}").contains("SecretString:password"), "{id}: {password:?}");
    }
}

#[test]
fn lambda_compute_chooses_classic_lambda_or_a_capacity_provider() {
    let template = template();
    let globals = &template["Globals"]["Function"];

    let classic = parameters(&template, &[]);
    assert_eq!(classic["LambdaCompute"], "classic");
    let present = resources(&template, &classic);
    assert!(!present.iter().any(|id| id.starts_with("CapacityProvider")), "{present:?}");
    assert_eq!(resolve(&template, &globals["CapacityProviderConfig"], &classic), None);

    let managed = parameters(
        &template,
        &[("LambdaCompute", "managed"), ("VpcSubnetIds", "subnet-0a,subnet-0b"), ("VpcSecurityGroupIds", "sg-0a")],
    );
    let present = resources(&template, &managed);
    assert!(
        present.contains(&"CapacityProvider".to_owned())
            && present.contains(&"CapacityProviderOperatorRole".to_owned())
    );
    let provider = &template["Resources"]["CapacityProvider"];
    assert_eq!(provider["Type"].as_str(), Some("AWS::Lambda::CapacityProvider"));
    assert_eq!(
        provider["Properties"]["PermissionsConfig"]["CapacityProviderOperatorRoleArn"],
        get_att("CapacityProviderOperatorRole.Arn")
    );
    let config = resolve(&template, &globals["CapacityProviderConfig"], &managed).expect("a capacity provider config");
    assert_eq!(config["Arn"], get_att("CapacityProvider.Arn"));
    assert_eq!(config["PerExecutionEnvironmentMaxConcurrency"], reference("ManagedPerEnvironmentConcurrency"));
    // The capacity provider places the functions in the VPC; they take no VpcConfig of their own.
    assert_eq!(resolve(&template, &globals["VpcConfig"], &managed), None);
    let classic_in_vpc = parameters(&template, &[("VpcSubnetIds", "subnet-0a"), ("VpcSecurityGroupIds", "sg-0a")]);
    assert!(resolve(&template, &globals["VpcConfig"], &classic_in_vpc).is_some());
}

/// Without the template's variable (`cargo lambda watch`, a function deployed by other means) a
/// function still keeps the Lambda budget: a pool of 2 that lets unused connections go after 60 s.
#[test]
fn a_function_keeps_the_lambda_budget_unless_told_otherwise() {
    let defaults = proeventa_lambda::lambda_config(|_| None).expect("configuration").store;
    assert_eq!(defaults.database_max_connections, Some(2));
    assert_eq!(defaults.database_idle_timeout, Some(std::time::Duration::from_secs(60)));
    let told = proeventa_lambda::lambda_config(|key| match key {
        "DATABASE_MAX_CONNECTIONS" => Some("5".into()),
        "DATABASE_IDLE_TIMEOUT_SECONDS" => Some("15".into()),
        _ => None,
    })
    .expect("configuration")
    .store;
    assert_eq!(told.database_max_connections, Some(5));
    assert_eq!(told.database_idle_timeout, Some(std::time::Duration::from_secs(15)));
}
