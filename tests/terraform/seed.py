#!/usr/bin/env python3
"""Create on moto the AWS objects a Terraform state (format 4) describes.

    python3 tests/terraform/seed.py --endpoint http://127.0.0.1:PORT STATE [--skip ADDRESS ...]

Each managed resource instance of a supported type is created from the
state's own attributes (region us-east-1, any credentials), in dependency
order (the order of SEEDERS below). Stdout: the state's text with every
id/ARN/hostname moto assigned differently replaced (old -> new, longest
first, whole tokens only), the account ids replaced by 123456789012 and the
state's regions by us-east-1 (availability zones too: eu-west-1a -> us-east-1a).
Stderr: `created ADDRESS` or `skipped ADDRESS (why)` per instance, and
`note: ...` lines for what the state does not hold but moto needed (a VPC,
subnets or a security group only referred to by id, a stand-in for an AWS
managed policy, an engine moto lacks).

`--skip ADDRESS` (an instance address, or a resource address for all its
instances) leaves that object out, as if deleted from AWS. An instance that
moto then refuses to create, and that depends on a skipped one, is skipped
too. Any other boto3 error ends the run with status 1.

Standard library and boto3 only.
"""
import argparse
import base64
import io
import ipaddress
import json
import re
import sys
import zipfile

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
# Engines moto 5.2 refuses (AWS retired them), and the nearest it accepts.
# The printed state names the stand-in, so the two agree.
ENGINE_STAND_IN = {"oracle-se1": "oracle-se2", "oracle-se": "oracle-se2"}
PLACEHOLDER_POLICY = json.dumps(
    {"Version": "2012-10-17",
     "Statement": [{"Effect": "Allow", "Action": "none:null", "Resource": "*"}]})


class Skip(Exception):
    """The instance is left out; the message says why."""


def given(**kwargs):
    """The keyword arguments whose value the state actually sets."""
    return {k: v for k, v in kwargs.items() if v not in (None, "", [], {})}


def block(a, name):
    """The first element of a nested block, or {}."""
    return (a.get(name) or [{}])[0] or {}


def tags(a):
    """The tags AWS holds: tags_all (provider default tags included)."""
    return a.get("tags_all") or a.get("tags") or {}


def tag_list(a, key="Key", value="Value"):
    return [{key: k, value: v} for k, v in tags(a).items()]


def tag_specs(a, kind):
    t = tag_list(a)
    return [{"ResourceType": kind, "Tags": t}] if t else []


def tiny_zip(handler, runtime, variant=0):
    module = handler.rsplit(".", 1)[0] or "index"
    name = ("bootstrap" if not runtime or runtime.startswith(("go", "provided"))
            else module + (".js" if runtime.startswith("nodejs") else ".py"))
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        # A fixed time: the same function gets the same bytes every run.
        entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        z.writestr(entry, f"# placeholder written by cairn's seed.py ({variant})\n")
    return data.getvalue()


class Seeder:
    def zip_for(self, a):
        """A function's code; kept as ZIPS/FUNCTION_NAME.zip when asked."""
        code = tiny_zip(a.get("handler") or "", a.get("runtime"))
        if self.zips:
            with open(f"{self.zips}/{a['function_name']}.zip", "wb") as f:
                f.write(code)
        return code

    def __init__(self, endpoint, text, skip, zips=None):
        self.zips = zips
        self.endpoint = endpoint
        self.text = text
        self.state = json.loads(text)
        self.skip = set(skip)
        self.clients = {}
        self.map = {}          # text in the state -> moto's text
        self.pattern = None
        # (type, id) -> original attributes, of managed resources and data sources
        self.by_id = {}
        self.managed_ids, self.skipped_ids, self.stand_ins = set(), set(), set()
        for r, inst, addr in self.instances():
            a = inst["attributes"]
            if a.get("id") and (r["mode"] == "managed" or (r["type"], a["id"]) not in self.by_id):
                self.by_id[(r["type"], a["id"])] = a
            if a.get("id") and r["mode"] == "managed":
                self.managed_ids.add(a["id"])
                if self.skipping(addr):
                    self.skipped_ids.add(a["id"])
        for region in set(re.findall(r"arn:aws[a-z-]*:[a-z0-9-]+:([a-z]{2}(?:-gov)?-[a-z]+-\d):", text)) \
                | set(re.findall(r'"region": "([a-z]{2}-[a-z]+-\d)"', text)):
            self.new(region, REGION)
            for zone in "abcdefgh":
                self.new(region + zone, REGION + zone)
        for account in set(re.findall(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):", text)) \
                | set(re.findall(r'"owner_id": "(\d{12})"', text)):
            self.new(account, ACCOUNT)

    # --- plumbing ---------------------------------------------------------

    def aws(self, service):
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service, endpoint_url=self.endpoint, region_name=REGION,
                aws_access_key_id="cairn-tests", aws_secret_access_key="cairn-tests")
        return self.clients[service]

    def instances(self):
        for r in self.state.get("resources", []):
            prefix = (r["module"] + "." if r.get("module") else "") + \
                ("data." if r["mode"] == "data" else "") + f"{r['type']}.{r['name']}"
            for inst in r.get("instances", []):
                key = inst.get("index_key")
                yield r, inst, prefix + ("" if key is None else f"[{json.dumps(key)}]")

    def skipping(self, addr):
        return addr in self.skip or addr.split("[")[0] in self.skip

    def new(self, old, new):
        """Record that `old` (as the state writes it) is `new` on moto."""
        if old and new and old != new:
            self.map[old] = new
            self.pattern = None

    def rewrite(self, text):
        if not self.map:
            return text
        if self.pattern is None:
            keys = sorted(self.map, key=len, reverse=True)
            self.pattern = re.compile(r"(?<![A-Za-z0-9_])(?:%s)(?![A-Za-z0-9_])"
                                      % "|".join(map(re.escape, keys)))
        return self.pattern.sub(lambda m: self.map[m.group(0)], text)

    def rewritten(self, attributes):
        return json.loads(self.rewrite(json.dumps(attributes, ensure_ascii=False)))

    def note(self, text):
        print(f"note: {text}", file=sys.stderr)

    # --- VPCs, subnets, security groups: by the state's (original) id ----
    # Created from the state's resource when it has one, else from a data
    # source, else as a stand-in; references go through these functions.

    def vpc(self, old):
        """moto's id for the state's VPC `old`, created if need be."""
        if old in self.map or old in self.skipped_ids:
            return self.map.get(old, old)
        a = self.rewritten(self.by_id.get(("aws_vpc", old), {}))
        ec2 = self.aws("ec2")
        new = ec2.create_vpc(**given(
            CidrBlock=a.get("cidr_block") or "10.0.0.0/16",
            InstanceTenancy=a.get("instance_tenancy"),
            TagSpecifications=tag_specs(a, "vpc")))["Vpc"]["VpcId"]
        for attr in ("enable_dns_support", "enable_dns_hostnames"):
            if attr in a:
                name = "".join(w.title() for w in attr.split("_")[1:])
                ec2.modify_vpc_attribute(VpcId=new, **{f"Enable{name}": {"Value": a[attr]}})
        self.new(old, new)
        if a.get("default_security_group_id"):
            self.new(a["default_security_group_id"], ec2.describe_security_groups(Filters=[
                {"Name": "vpc-id", "Values": [new]},
                {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"])
        if a.get("main_route_table_id"):
            self.new(a["main_route_table_id"], ec2.describe_route_tables(Filters=[
                {"Name": "vpc-id", "Values": [new]},
                {"Name": "association.main", "Values": ["true"]}])["RouteTables"][0]["RouteTableId"])
        if a.get("default_network_acl_id"):
            self.new(a["default_network_acl_id"], ec2.describe_network_acls(Filters=[
                {"Name": "vpc-id", "Values": [new]},
                {"Name": "default", "Values": ["true"]}])["NetworkAcls"][0]["NetworkAclId"])
        if old not in self.managed_ids:
            self.stand_ins.add(old)
            self.note(f"created VPC {new} for {old}, which the state only refers to")
        return new

    def subnet(self, old, vpc_hint=None):
        if old in self.map or old in self.skipped_ids:
            return self.map.get(old, old)
        o = self.by_id.get(("aws_subnet", old))
        if o is None:  # only referred to: which VPC? a data.aws_subnet_ids may say
            ids = next((d for (t, _), d in self.by_id.items()
                        if t == "aws_subnet_ids" and old in (d.get("ids") or [])), {})
            o = {"vpc_id": ids.get("vpc_id") or vpc_hint or "vpc-none"}
        a = self.rewritten(o)
        ec2 = self.aws("ec2")
        vpc = self.vpc(o["vpc_id"])
        taken = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        cidr, zone = a.get("cidr_block"), a.get("availability_zone")
        if not cidr:
            block_ = ipaddress.ip_network(ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"])
            used = [ipaddress.ip_network(s["CidrBlock"]) for s in taken]
            cidr = str(next(n for n in block_.subnets(new_prefix=max(24, block_.prefixlen + 2))
                            if not any(n.overlaps(u) for u in used)))
        new = ec2.create_subnet(**given(
            VpcId=vpc, CidrBlock=cidr,
            AvailabilityZone=zone or REGION + "abcdef"[len(taken) % 6],
            TagSpecifications=tag_specs(a, "subnet")))["Subnet"]["SubnetId"]
        if a.get("map_public_ip_on_launch"):
            ec2.modify_subnet_attribute(SubnetId=new, MapPublicIpOnLaunch={"Value": True})
        self.new(old, new)
        if old not in self.managed_ids:
            self.stand_ins.add(old)
            self.note(f"created subnet {new} ({cidr}) for {old}, which the state only refers to")
        return new

    def security_group(self, old, vpc_hint=None):
        if old in self.map or old in self.skipped_ids:
            return self.map.get(old, old)
        o = self.by_id.get(("aws_security_group", old), {})
        a = self.rewritten(o)
        vpc = o.get("vpc_id") or vpc_hint
        new = self.aws("ec2").create_security_group(**given(
            GroupName=a.get("name") or f"cairn-seed-{old}",
            Description=a.get("description") or "stand-in created by cairn's seed.py",
            VpcId=self.vpc(vpc) if vpc else None,
            TagSpecifications=tag_specs(a, "security-group")))["GroupId"]
        self.new(old, new)
        if old not in self.managed_ids:
            self.stand_ins.add(old)
            self.note(f"created security group {new} for {old}, which the state only refers to")
        return new

    def policy_arn(self, arn):
        """An AWS managed policy moto lacks becomes a customer policy at the same path and name."""
        if not arn.startswith("arn:aws:iam::aws:policy/"):
            return arn
        if arn in self.map:
            return self.map[arn]
        iam = self.aws("iam")
        try:
            iam.get_policy(PolicyArn=arn)
            return arn
        except iam.exceptions.NoSuchEntityException:
            pass
        path, name = re.match(r"arn:aws:iam::aws:policy(/(?:.*/)?)([^/]+)$", arn).groups()
        new = iam.create_policy(PolicyName=name, Path=path, PolicyDocument=PLACEHOLDER_POLICY,
                                Description=f"stand-in for the AWS managed policy {arn}")["Policy"]["Arn"]
        self.new(arn, new)
        self.note(f"moto has no AWS managed policy {arn} (start it with "
                  f"MOTO_IAM_LOAD_MANAGED_POLICIES=true to keep it): created {new}")
        return new

    def has_resource(self, tf_type, **match):
        """Whether the state has a managed `tf_type` whose attributes match."""
        return any(r["mode"] == "managed" and r["type"] == tf_type and
                   all(inst["attributes"].get(k) == v for k, v in match.items())
                   for r, inst, _ in self.instances())

    # --- the run ----------------------------------------------------------

    def run(self):
        for r, inst, addr in self.instances():
            if r["type"] == "aws_db_instance" and inst["attributes"].get("engine") in ENGINE_STAND_IN:
                old = inst["attributes"]["engine"]
                self.new(old, ENGINE_STAND_IN[old])
                self.note(f"moto has no engine {old}: {addr} is created as {ENGINE_STAND_IN[old]} "
                          f"and the state says so")
        order = list(SEEDERS)
        for r, inst, addr in sorted(self.instances(), key=lambda x: (
                x[0]["mode"] != "managed",
                order.index(x[0]["type"]) if x[0]["type"] in order else len(order))):
            why = None
            if r["mode"] != "managed":
                why = "data source" + ("; what it reads was created, see the notes"
                                       if inst["attributes"].get("id") in self.stand_ins else "")
            elif self.skipping(addr):
                why = "--skip"
            elif r["type"] not in SEEDERS:
                why = SKIPPED_TYPES.get(r["type"], "type not seeded by seed.py")
            else:
                try:
                    SEEDERS[r["type"]](self, self.rewritten(inst["attributes"]), inst["attributes"])
                except Skip as e:
                    why = str(e)
                except ClientError as e:
                    gone = [d for d in inst.get("dependencies", [])
                            if any(k.split("[")[0] == d for k in self.skip)]
                    if not gone:
                        sys.exit(f"seed.py: cannot create {addr} on moto: {e}")
                    why = f"moto refuses it without {', '.join(gone)}: {e}"
                except BotoCoreError as e:  # moto unreachable, or a value boto3 refuses
                    sys.exit(f"seed.py: cannot create {addr} on moto at {self.endpoint}: {e}")
            print(f"skipped {addr} ({why})" if why else f"created {addr}", file=sys.stderr)
        return self.rewrite(self.text)


# --- one function per type: (seeder, rewritten attributes, original attributes)

def kms_key(s, a, o):
    kms = s.aws("kms")
    key = kms.create_key(**given(
        Description=a.get("description"), KeyUsage=a.get("key_usage"),
        KeySpec=a.get("customer_master_key_spec"), Policy=a.get("policy"),
        MultiRegion=a.get("multi_region"), Tags=tag_list(a, "TagKey", "TagValue")))["KeyMetadata"]
    if a.get("enable_key_rotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    if a.get("is_enabled") is False:
        kms.disable_key(KeyId=key["KeyId"])
    s.new(o["arn"], key["Arn"])
    s.new(o.get("key_id") or o["id"], key["KeyId"])


def kms_alias(s, a, o):
    s.aws("kms").create_alias(AliasName=a["name"], TargetKeyId=a["target_key_id"])


def vpc(s, a, o):
    s.vpc(o["id"])


def subnet(s, a, o):
    s.subnet(o["id"])


def security_group(s, a, o):
    ec2 = s.aws("ec2")
    group = s.security_group(o["id"])

    def permissions(rules):
        return [given(
            IpProtocol=r["protocol"],
            FromPort=r["from_port"] if r["protocol"] != "-1" else None,
            ToPort=r["to_port"] if r["protocol"] != "-1" else None,
            IpRanges=[given(CidrIp=c, Description=r.get("description")) for c in r.get("cidr_blocks") or []],
            Ipv6Ranges=[given(CidrIpv6=c, Description=r.get("description")) for c in r.get("ipv6_cidr_blocks") or []],
            PrefixListIds=[{"PrefixListId": p} for p in r.get("prefix_list_ids") or []],
            UserIdGroupPairs=[{"GroupId": s.security_group(g, o.get("vpc_id"))}
                              for g in r.get("security_groups") or []]
            + ([{"GroupId": group}] if r.get("self") else []))
            for r in rules or []]

    # The rules as the state writes them: their group ids go through s.security_group.
    if o.get("vpc_id"):  # moto, like AWS, opens all egress: the state says what is open
        default = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissionsEgress"]
        if default:
            ec2.revoke_security_group_egress(GroupId=group, IpPermissions=default)
        if o.get("egress"):
            ec2.authorize_security_group_egress(GroupId=group, IpPermissions=permissions(o["egress"]))
    if o.get("ingress"):
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=permissions(o["ingress"]))


def secret(s, a, o):
    sm = s.aws("secretsmanager")
    arn = sm.create_secret(**given(
        Name=a["name"], Description=a.get("description"), KmsKeyId=a.get("kms_key_id"),
        Tags=tag_list(a)))["ARN"]
    if a.get("policy"):
        sm.put_resource_policy(SecretId=arn, ResourcePolicy=a["policy"])
    s.new(o["arn"], arn)


def secret_version(s, a, o):
    s.aws("secretsmanager").put_secret_value(**given(
        SecretId=a["secret_id"], ClientRequestToken=a.get("version_id"),
        SecretString=a.get("secret_string"),
        SecretBinary=base64.b64decode(a["secret_binary"]) if a.get("secret_binary") else None,
        VersionStages=a.get("version_stages")))


def sns_topic(s, a, o):
    attributes = {k: str(a[v]).lower() if isinstance(a[v], bool) else str(a[v]) for k, v in {
        "DisplayName": "display_name", "Policy": "policy", "KmsMasterKeyId": "kms_master_key_id",
        "DeliveryPolicy": "delivery_policy", "FifoTopic": "fifo_topic",
        "ContentBasedDeduplication": "content_based_deduplication"}.items()
        if a.get(v) not in (None, "", False)}
    s.aws("sns").create_topic(**given(Name=a["name"], Attributes=attributes, Tags=tag_list(a)))


def ecr_repository(s, a, o):
    enc = block(a, "encryption_configuration")
    s.aws("ecr").create_repository(**given(
        repositoryName=a["name"], imageTagMutability=a.get("image_tag_mutability"),
        imageScanningConfiguration={"scanOnPush": bool(block(a, "image_scanning_configuration").get("scan_on_push"))},
        encryptionConfiguration=given(encryptionType=enc.get("encryption_type"), kmsKey=enc.get("kms_key")),
        tags=tag_list(a)))


def ecr_repository_policy(s, a, o):
    s.aws("ecr").set_repository_policy(repositoryName=a["repository"], policyText=a["policy"])


def dynamodb_table(s, a, o):
    ddb = s.aws("dynamodb")
    provisioned = a.get("billing_mode") == "PROVISIONED"

    def keys(hash_key, range_key):
        return [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
            [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else [])

    def index(i, hash_key=None):
        projection = given(ProjectionType=i["projection_type"], NonKeyAttributes=i.get("non_key_attributes"))
        return given(IndexName=i["name"], KeySchema=keys(hash_key or i["hash_key"], i.get("range_key")),
                     Projection=projection, ProvisionedThroughput={
                         "ReadCapacityUnits": i["read_capacity"],
                         "WriteCapacityUnits": i["write_capacity"]} if provisioned and not hash_key else None)

    sse = block(a, "server_side_encryption")
    table = ddb.create_table(**given(
        TableName=a["name"],
        AttributeDefinitions=[{"AttributeName": x["name"], "AttributeType": x["type"]} for x in a["attribute"]],
        KeySchema=keys(a["hash_key"], a.get("range_key")),
        BillingMode=a.get("billing_mode"),
        ProvisionedThroughput={"ReadCapacityUnits": a["read_capacity"],
                               "WriteCapacityUnits": a["write_capacity"]} if provisioned else None,
        GlobalSecondaryIndexes=[index(i) for i in a.get("global_secondary_index") or []],
        LocalSecondaryIndexes=[index(i, a["hash_key"]) for i in a.get("local_secondary_index") or []],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": a["stream_view_type"]}
        if a.get("stream_enabled") else None,
        SSESpecification=given(Enabled=True, SSEType="KMS", KMSMasterKeyId=sse.get("kms_key_arn"))
        if sse.get("enabled") else None,
        TableClass=a.get("table_class"),
        DeletionProtectionEnabled=a.get("deletion_protection_enabled") or None,
        Tags=tag_list(a)))["TableDescription"]
    ttl = block(a, "ttl")
    if ttl.get("enabled"):
        ddb.update_time_to_live(TableName=a["name"], TimeToLiveSpecification={
            "Enabled": True, "AttributeName": ttl["attribute_name"]})
    if block(a, "point_in_time_recovery").get("enabled"):
        ddb.update_continuous_backups(TableName=a["name"], PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True})
    if o.get("stream_arn"):
        s.new(o["stream_arn"], table["LatestStreamArn"])
        s.new(o.get("stream_label"), table["LatestStreamLabel"])


def log_group(s, a, o):
    logs = s.aws("logs")
    logs.create_log_group(**given(logGroupName=a["name"], kmsKeyId=a.get("kms_key_id"), tags=tags(a)))
    if a.get("retention_in_days"):
        logs.put_retention_policy(logGroupName=a["name"], retentionInDays=a["retention_in_days"])


def iam_policy(s, a, o):
    policy = s.aws("iam").create_policy(**given(
        PolicyName=a["name"], Path=a.get("path"), PolicyDocument=a["policy"],
        Description=a.get("description"), Tags=tag_list(a)))["Policy"]
    s.new(o.get("policy_id"), policy["PolicyId"])


def iam_role(s, a, o):
    iam = s.aws("iam")
    role = iam.create_role(**given(
        RoleName=a["name"], Path=a.get("path"), AssumeRolePolicyDocument=a["assume_role_policy"],
        Description=a.get("description"), MaxSessionDuration=a.get("max_session_duration"),
        PermissionsBoundary=a.get("permissions_boundary"), Tags=tag_list(a)))["Role"]
    s.new(o.get("unique_id"), role["RoleId"])
    # What the state also holds as its own resources is left to those resources,
    # so that --skip on one of them leaves it missing.
    for p in a.get("inline_policy") or []:
        if p.get("name") and not s.has_resource("aws_iam_role_policy", role=o["name"], name=p["name"]):
            iam.put_role_policy(RoleName=a["name"], PolicyName=p["name"], PolicyDocument=p["policy"])
    for arn in o.get("managed_policy_arns") or []:
        if arn and not s.has_resource("aws_iam_role_policy_attachment", role=o["name"], policy_arn=arn):
            iam.attach_role_policy(RoleName=a["name"], PolicyArn=s.policy_arn(s.rewrite(arn)))


def iam_role_policy(s, a, o):
    s.aws("iam").put_role_policy(RoleName=a["role"], PolicyName=a["name"], PolicyDocument=a["policy"])


def iam_role_policy_attachment(s, a, o):
    s.aws("iam").attach_role_policy(RoleName=a["role"], PolicyArn=s.policy_arn(a["policy_arn"]))


def db_subnet_group(s, a, o):
    s.aws("rds").create_db_subnet_group(
        DBSubnetGroupName=a["name"], DBSubnetGroupDescription=a.get("description") or "Managed by Terraform",
        SubnetIds=[s.subnet(x, o.get("vpc_id")) for x in o["subnet_ids"]], Tags=tag_list(a))


def db_parameter_group(s, a, o):
    rds = s.aws("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName=a["name"], DBParameterGroupFamily=a["family"],
        Description=a.get("description") or "Managed by Terraform", Tags=tag_list(a))
    if a.get("parameter"):
        rds.modify_db_parameter_group(DBParameterGroupName=a["name"], Parameters=[given(
            ParameterName=p["name"], ParameterValue=p["value"], ApplyMethod=p.get("apply_method"))
            for p in a["parameter"]])


def db_option_group(s, a, o):
    try:
        s.aws("rds").create_option_group(
            OptionGroupName=a["name"], EngineName=a["engine_name"],
            MajorEngineVersion=a["major_engine_version"],
            OptionGroupDescription=a.get("option_group_description") or "Managed by Terraform",
            Tags=tag_list(a))
    except ClientError as e:
        if e.response["Error"]["Code"] in ("InvalidParameterCombination", "InvalidParameterValue"):
            raise Skip(f"moto refuses it: {e.response['Error']['Message']}")  # it knows few engines
        raise
    if a.get("option"):
        s.note(f"option group {a['name']} is created without its options: seed.py does not seed them")


def db_instance(s, a, o):
    rds = s.aws("rds")
    option_group = a.get("option_group_name")
    if option_group:
        try:
            rds.describe_option_groups(OptionGroupName=option_group)
        except rds.exceptions.OptionGroupNotFoundFault:  # moto then names its default one
            if not option_group.startswith("default:"):
                s.note(f"{a['identifier']}: option group {option_group} is not on moto; it gets the default one")
            option_group = None
    managed_password = bool(a.get("manage_master_user_password"))
    settings = given(
        DBInstanceIdentifier=a["identifier"], Engine=a["engine"], EngineVersion=a["engine_version"],
        DBInstanceClass=a["instance_class"], AllocatedStorage=a.get("allocated_storage"),
        MaxAllocatedStorage=a.get("max_allocated_storage") or None,
        MasterUsername=a.get("username"),
        MasterUserPassword=None if managed_password else a.get("password"),
        ManageMasterUserPassword=managed_password or None,
        MasterUserSecretKmsKeyId=a.get("master_user_secret_kms_key_id"),
        DBName=a.get("db_name") or a.get("name"), Port=a.get("port"),
        DBSubnetGroupName=a.get("db_subnet_group_name"),
        VpcSecurityGroupIds=[s.security_group(g) for g in o.get("vpc_security_group_ids") or []],
        DBParameterGroupName=a.get("parameter_group_name"), OptionGroupName=option_group,
        AvailabilityZone=None if a.get("multi_az") else a.get("availability_zone"),
        MultiAZ=a.get("multi_az"), PubliclyAccessible=a.get("publicly_accessible"),
        StorageType=a.get("storage_type"), Iops=a.get("iops") or None,
        StorageEncrypted=a.get("storage_encrypted"), KmsKeyId=a.get("kms_key_id"),
        BackupRetentionPeriod=a.get("backup_retention_period"),
        PreferredBackupWindow=a.get("backup_window"), PreferredMaintenanceWindow=a.get("maintenance_window"),
        LicenseModel=a.get("license_model"), CharacterSetName=a.get("character_set_name"),
        CACertificateIdentifier=a.get("ca_cert_identifier"),
        AutoMinorVersionUpgrade=a.get("auto_minor_version_upgrade"),
        CopyTagsToSnapshot=a.get("copy_tags_to_snapshot"), DeletionProtection=a.get("deletion_protection"),
        EnableIAMDatabaseAuthentication=a.get("iam_database_authentication_enabled"),
        EnableCloudwatchLogsExports=a.get("enabled_cloudwatch_logs_exports"),
        Tags=tag_list(a))
    try:
        db = rds.create_db_instance(**settings)["DBInstance"]
    except ClientError as e:
        # moto counts windows that only touch (backup 03:00-06:00, maintenance
        # mon:00:00-mon:03:00) as overlapping; AWS accepts them.
        if "must not overlap" not in str(e) or not settings.pop("PreferredBackupWindow", None):
            raise
        db = rds.create_db_instance(**settings)["DBInstance"]
        s.note(f"{a['identifier']}: moto refuses backup window {a['backup_window']} next to maintenance "
               f"window {a['maintenance_window']}; it has {db['PreferredBackupWindow']} and the state says so")
        s.new(o["backup_window"], db["PreferredBackupWindow"])
    s.new(o.get("resource_id"), db["DbiResourceId"])
    if o.get("id", "").startswith("db-"):  # provider 5+: the id is the resource id
        s.new(o["id"], db["DbiResourceId"])
    s.new(o.get("address"), db["Endpoint"]["Address"])
    old_secret = block(o, "master_user_secret").get("secret_arn")
    if old_secret and db.get("MasterUserSecret"):
        s.new(old_secret, db["MasterUserSecret"]["SecretArn"])


def lambda_function(s, a, o):
    if a.get("package_type", "Zip") != "Zip":
        raise Skip("image functions are not seeded")
    lam = s.aws("lambda")
    vpc = block(a, "vpc_config")
    lam.create_function(**given(
        FunctionName=a["function_name"], Runtime=a.get("runtime"), Handler=a.get("handler"),
        Role=a["role"], Code={"ZipFile": s.zip_for(a)},
        Description=a.get("description"), Timeout=a.get("timeout"), MemorySize=a.get("memory_size"),
        Publish=a.get("publish"), Architectures=a.get("architectures"),
        Environment={"Variables": block(a, "environment").get("variables")}
        if block(a, "environment").get("variables") else None,
        EphemeralStorage={"Size": block(a, "ephemeral_storage")["size"]} if a.get("ephemeral_storage") else None,
        TracingConfig={"Mode": block(a, "tracing_config")["mode"]} if a.get("tracing_config") else None,
        KMSKeyArn=a.get("kms_key_arn"),
        VpcConfig={"SubnetIds": [s.subnet(x) for x in block(o, "vpc_config")["subnet_ids"]],
                   "SecurityGroupIds": [s.security_group(x) for x in block(o, "vpc_config")["security_group_ids"]]}
        if vpc.get("subnet_ids") else None,
        Tags=tags(a)))
    reserved = a.get("reserved_concurrent_executions")
    if reserved is not None and reserved >= 0:
        lam.put_function_concurrency(FunctionName=a["function_name"], ReservedConcurrentExecutions=reserved)


def lambda_alias(s, a, o):
    lam = s.aws("lambda")
    version = a["function_version"]
    if version != "$LATEST":  # publish versions up to the one the alias names
        config = lam.get_function_configuration(FunctionName=a["function_name"])
        published = [v["Version"] for v in lam.list_versions_by_function(
            FunctionName=a["function_name"])["Versions"] if v["Version"] != "$LATEST"]
        n = max(map(int, published), default=0)
        while n < int(version):
            lam.update_function_code(FunctionName=a["function_name"],
                                     ZipFile=tiny_zip(config.get("Handler", ""), config.get("Runtime"), n + 1))
            n = int(lam.publish_version(FunctionName=a["function_name"])["Version"])
    routing = block(a, "routing_config").get("additional_version_weights")
    lam.create_alias(**given(
        FunctionName=a["function_name"], Name=a["name"], FunctionVersion=version,
        Description=a.get("description"),
        RoutingConfig={"AdditionalVersionWeights": routing} if routing else None))


def lambda_function_url(s, a, o):
    cors = block(a, "cors")
    url = s.aws("lambda").create_function_url_config(**given(
        FunctionName=a["function_name"], Qualifier=a.get("qualifier"), AuthType=a["authorization_type"],
        InvokeMode=a.get("invoke_mode"),
        Cors=given(AllowCredentials=cors.get("allow_credentials"), AllowHeaders=cors.get("allow_headers"),
                   AllowMethods=cors.get("allow_methods"), AllowOrigins=cors.get("allow_origins"),
                   ExposeHeaders=cors.get("expose_headers"), MaxAge=cors.get("max_age")) or None))
    s.new(o.get("url_id"), url["FunctionUrl"].split("//")[1].split(".")[0])


def lambda_permission(s, a, o):
    s.aws("lambda").add_permission(**given(
        FunctionName=a["function_name"], StatementId=a["statement_id"], Action=a["action"],
        Principal=a["principal"], SourceArn=a.get("source_arn"), SourceAccount=a.get("source_account"),
        EventSourceToken=a.get("event_source_token"), Qualifier=a.get("qualifier"),
        PrincipalOrgID=a.get("principal_org_id"), FunctionUrlAuthType=a.get("function_url_auth_type")))


def apigatewayv2_api(s, a, o):
    if a.get("protocol_type") != "HTTP":
        raise Skip(f"{a.get('protocol_type')} APIs are not seeded")
    cors = block(a, "cors_configuration")
    api = s.aws("apigatewayv2").create_api(**given(
        Name=a["name"], ProtocolType="HTTP", Description=a.get("description"), Version=a.get("version"),
        RouteSelectionExpression=a.get("route_selection_expression"),
        ApiKeySelectionExpression=a.get("api_key_selection_expression"),
        DisableExecuteApiEndpoint=a.get("disable_execute_api_endpoint"),
        CorsConfiguration=given(
            AllowCredentials=cors.get("allow_credentials"), AllowHeaders=cors.get("allow_headers"),
            AllowMethods=cors.get("allow_methods"), AllowOrigins=cors.get("allow_origins"),
            ExposeHeaders=cors.get("expose_headers"), MaxAge=cors.get("max_age")) or None,
        Tags=tags(a)))
    s.new(o["id"], api["ApiId"])


def apigatewayv2_integration(s, a, o):
    integration = s.aws("apigatewayv2").create_integration(**given(
        ApiId=a["api_id"], IntegrationType=a["integration_type"], IntegrationMethod=a.get("integration_method"),
        IntegrationUri=a.get("integration_uri"), IntegrationSubtype=a.get("integration_subtype"),
        PayloadFormatVersion=a.get("payload_format_version"), TimeoutInMillis=a.get("timeout_milliseconds"),
        ConnectionType=a.get("connection_type"), ConnectionId=a.get("connection_id"),
        CredentialsArn=a.get("credentials_arn"), Description=a.get("description"),
        PassthroughBehavior=a.get("passthrough_behavior"),
        RequestParameters=a.get("request_parameters"), RequestTemplates=a.get("request_templates"),
        TemplateSelectionExpression=a.get("template_selection_expression")))
    s.new(o["id"], integration["IntegrationId"])


def apigatewayv2_route(s, a, o):
    route = s.aws("apigatewayv2").create_route(**given(
        ApiId=a["api_id"], RouteKey=a["route_key"], Target=a.get("target"),
        AuthorizationType=a.get("authorization_type"), AuthorizerId=a.get("authorizer_id"),
        AuthorizationScopes=a.get("authorization_scopes"), ApiKeyRequired=a.get("api_key_required"),
        OperationName=a.get("operation_name")))
    s.new(o["id"], route["RouteId"])


def apigatewayv2_stage(s, a, o):
    def settings(r):
        return given(
            DataTraceEnabled=r.get("data_trace_enabled"), DetailedMetricsEnabled=r.get("detailed_metrics_enabled"),
            LoggingLevel=r.get("logging_level"), ThrottlingBurstLimit=r.get("throttling_burst_limit"),
            ThrottlingRateLimit=r.get("throttling_rate_limit"))

    log = block(a, "access_log_settings")
    s.aws("apigatewayv2").create_stage(**given(
        ApiId=a["api_id"], StageName=a["name"], AutoDeploy=a.get("auto_deploy"),
        Description=a.get("description"), StageVariables=a.get("stage_variables"),
        ClientCertificateId=a.get("client_certificate_id"),
        # DeploymentId is not sent: moto has no deployments (the state's stays as it was).
        DefaultRouteSettings=settings(block(a, "default_route_settings")) or None,
        RouteSettings={r["route_key"]: settings(r) for r in a.get("route_settings") or []},
        AccessLogSettings=given(DestinationArn=log.get("destination_arn"), Format=log.get("format")) or None,
        Tags=tags(a)))


def s3_bucket(s, a, o):
    s3 = s.aws("s3")
    s3.create_bucket(Bucket=a["bucket"])  # us-east-1: no location constraint
    if tags(a):
        s3.put_bucket_tagging(Bucket=a["bucket"], Tagging={"TagSet": tag_list(a)})


def s3_bucket_versioning(s, a, o):
    status = block(a, "versioning_configuration").get("status") or "Enabled"
    s.aws("s3").put_bucket_versioning(Bucket=a["bucket"],
                                      VersioningConfiguration={"Status": status})


def s3_bucket_encryption(s, a, o):
    rules = []
    for rule in a.get("rule") or []:
        default = block(rule, "apply_server_side_encryption_by_default")
        rules.append(given(
            ApplyServerSideEncryptionByDefault=given(
                SSEAlgorithm=default.get("sse_algorithm"),
                KMSMasterKeyID=default.get("kms_master_key_id")),
            BucketKeyEnabled=rule.get("bucket_key_enabled")))
    s.aws("s3").put_bucket_encryption(Bucket=a["bucket"],
                                      ServerSideEncryptionConfiguration={"Rules": rules})


def s3_public_access_block(s, a, o):
    s.aws("s3").put_public_access_block(Bucket=a["bucket"], PublicAccessBlockConfiguration={
        "BlockPublicAcls": bool(a.get("block_public_acls")),
        "IgnorePublicAcls": bool(a.get("ignore_public_acls")),
        "BlockPublicPolicy": bool(a.get("block_public_policy")),
        "RestrictPublicBuckets": bool(a.get("restrict_public_buckets"))})


def s3_bucket_policy(s, a, o):
    s.aws("s3").put_bucket_policy(Bucket=a["bucket"], Policy=a["policy"])


def s3_ownership_controls(s, a, o):
    ownership = block(a, "rule").get("object_ownership")
    s.aws("s3").put_bucket_ownership_controls(
        Bucket=a["bucket"], OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})


def s3_bucket_acl(s, a, o):
    if a.get("acl"):
        s.aws("s3").put_bucket_acl(Bucket=a["bucket"], ACL=a["acl"])


def s3_bucket_cors(s, a, o):
    rules = [given(AllowedMethods=r.get("allowed_methods"), AllowedOrigins=r.get("allowed_origins"),
                   AllowedHeaders=r.get("allowed_headers"), ExposeHeaders=r.get("expose_headers"),
                   MaxAgeSeconds=r.get("max_age_seconds"), ID=r.get("id"))
             for r in a.get("cors_rule") or []]
    s.aws("s3").put_bucket_cors(Bucket=a["bucket"], CORSConfiguration={"CORSRules": rules})


def s3_bucket_website(s, a, o):
    s.aws("s3").put_bucket_website(Bucket=a["bucket"], WebsiteConfiguration=given(
        IndexDocument=given(Suffix=block(a, "index_document").get("suffix")) or None,
        ErrorDocument=given(Key=block(a, "error_document").get("key")) or None))


def s3_object(s, a, o):
    # The state holds no content: a stand-in body of the same type.
    s.aws("s3").put_object(Bucket=a["bucket"], Key=a["key"], Body=f"({a['key']})".encode(),
                           **given(ContentType=a.get("content_type")))


def sqs_queue(s, a, o):
    attributes = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in given(
        DelaySeconds=a.get("delay_seconds"), MaximumMessageSize=a.get("max_message_size"),
        MessageRetentionPeriod=a.get("message_retention_seconds"),
        ReceiveMessageWaitTimeSeconds=a.get("receive_wait_time_seconds"),
        VisibilityTimeout=a.get("visibility_timeout_seconds"), Policy=a.get("policy"),
        RedrivePolicy=a.get("redrive_policy"), RedriveAllowPolicy=a.get("redrive_allow_policy"),
        KmsMasterKeyId=a.get("kms_master_key_id"),
        SqsManagedSseEnabled=a.get("sqs_managed_sse_enabled"),
        FifoQueue=a.get("fifo_queue") or None,
        ContentBasedDeduplication=a.get("content_based_deduplication") or None).items()}
    url = s.aws("sqs").create_queue(QueueName=a["name"], Attributes=attributes,
                                    tags=tags(a))["QueueUrl"]
    s.new(o["url"], url)


SEEDERS = {  # creation order: what others refer to comes first
    "aws_kms_key": kms_key,
    "aws_kms_alias": kms_alias,
    "aws_vpc": vpc,
    "aws_subnet": subnet,
    "aws_security_group": security_group,
    "aws_secretsmanager_secret": secret,
    "aws_secretsmanager_secret_version": secret_version,
    "aws_sns_topic": sns_topic,
    "aws_ecr_repository": ecr_repository,
    "aws_ecr_repository_policy": ecr_repository_policy,
    "aws_dynamodb_table": dynamodb_table,
    "aws_sqs_queue": sqs_queue,
    "aws_s3_bucket": s3_bucket,
    "aws_s3_bucket_versioning": s3_bucket_versioning,
    "aws_s3_bucket_server_side_encryption_configuration": s3_bucket_encryption,
    "aws_s3_bucket_ownership_controls": s3_ownership_controls,
    "aws_s3_bucket_acl": s3_bucket_acl,
    "aws_s3_bucket_public_access_block": s3_public_access_block,
    "aws_s3_bucket_policy": s3_bucket_policy,
    "aws_s3_bucket_cors_configuration": s3_bucket_cors,
    "aws_s3_bucket_website_configuration": s3_bucket_website,
    "aws_s3_object": s3_object,
    "aws_cloudwatch_log_group": log_group,
    "aws_iam_policy": iam_policy,
    "aws_iam_role": iam_role,
    "aws_iam_role_policy": iam_role_policy,
    "aws_iam_role_policy_attachment": iam_role_policy_attachment,
    "aws_db_subnet_group": db_subnet_group,
    "aws_db_parameter_group": db_parameter_group,
    "aws_db_option_group": db_option_group,
    "aws_db_instance": db_instance,
    "aws_lambda_function": lambda_function,
    "aws_lambda_alias": lambda_alias,
    "aws_lambda_function_url": lambda_function_url,
    "aws_apigatewayv2_api": apigatewayv2_api,
    "aws_apigatewayv2_integration": apigatewayv2_integration,
    "aws_apigatewayv2_route": apigatewayv2_route,
    "aws_apigatewayv2_stage": apigatewayv2_stage,
    "aws_lambda_permission": lambda_permission,  # its source ARN names the API
}

SKIPPED_TYPES = {
    "aws_apigatewayv2_deployment": "moto has no API Gateway v2 deployments (CreateDeployment is missing)",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("state", help="a terraform.tfstate (format 4)")
    parser.add_argument("--skip", action="append", default=[], metavar="TF_ADDRESS",
                        help="leave this resource (instance) out; repeatable")
    parser.add_argument("--zips", metavar="DIR",
                        help="write each function's code as DIR/FUNCTION_NAME.zip")
    args = parser.parse_args()
    with open(args.state, encoding="utf-8") as f:
        text = f.read()
    seeder = Seeder(args.endpoint, text, args.skip, args.zips)
    known = {addr for _, _, addr in seeder.instances()} | {a.split("[")[0] for _, _, a in seeder.instances()}
    unknown = [a for a in args.skip if a not in known]
    if unknown:
        sys.exit(f"seed.py: --skip names no resource in {args.state}: {', '.join(unknown)}")
    sys.stdout.write(seeder.run())


if __name__ == "__main__":
    main()
