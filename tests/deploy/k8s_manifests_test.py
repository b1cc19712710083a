"""deploy/k8s: renders the kustomizations (a small built-in renderer; also `kubectl kustomize` when kubectl is
installed) and checks what running edlae-server on Kubernetes needs; runs model-sync.sh against temp folders."""

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import edlae_testing

edlae_testing.require_modules("yaml")
import yaml  # noqa: E402

SOURCE = os.environ.get("EDLAE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(SOURCE, "deploy", "k8s")
KUSTOMIZATIONS = ["base", "overlays/small"]
MIB = 1 << 20
PROCESS_OVERHEAD = 256 * MIB  # gRPC threads, buffers, allocator; measured RSS without the model is far below


def parse_quantity(q) -> float:
    """Kubernetes quantity → number (bytes for memory, cores for cpu)."""
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(q))
    assert m, f"bad quantity {q!r}"
    units = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
             "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    return float(m.group(1)) * units[m.group(2)]


def dense_model_bytes(items: int) -> int:
    """B of a dense float32 model: n rows of n floats padded to a multiple of 16 (docs/model-format.md)."""
    return 4 * items * ((items + 15) // 16 * 16)


def strategic_merge(base, patch):
    """Kubernetes strategic merge for the shapes our patches use: maps merge, lists of named maps merge by name,
    other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            out[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (isinstance(base, list) and isinstance(patch, list) and base and patch
            and all(isinstance(x, dict) and "name" in x for x in base + patch)):
        out = [copy.deepcopy(x) for x in base]
        for item in patch:
            match = next((i for i, x in enumerate(out) if x["name"] == item["name"]), None)
            if match is None:
                out.append(copy.deepcopy(item))
            else:
                out[match] = strategic_merge(out[match], item)
        return out
    return copy.deepcopy(patch)


def render(directory: str) -> list[dict]:
    """A kustomize build covering what deploy/k8s uses: resources, namespace, labels, configMapGenerator (files),
    images, patches (strategic merge). Generated names keep no hash suffix."""
    with open(os.path.join(directory, "kustomization.yaml"), encoding="utf-8") as f:
        k = yaml.safe_load(f)
    known = {"apiVersion", "kind", "resources", "namespace", "labels", "configMapGenerator", "images", "patches"}
    assert set(k) <= known, f"{directory}: the test's renderer does not know {set(k) - known}"
    docs = []
    for resource in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, resource))
        if os.path.isdir(path):
            docs += render(path)
        else:
            with open(path, encoding="utf-8") as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
    for gen in k.get("configMapGenerator", []):
        data = {}
        for name in gen.get("files", []):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                data[os.path.basename(name)] = f.read()
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    for patch in k.get("patches", []):
        with open(os.path.join(directory, patch["path"]), encoding="utf-8") as f:
            p = yaml.safe_load(f)
        targets = [i for i, d in enumerate(docs)
                   if d["kind"] == p["kind"] and d["metadata"]["name"] == p["metadata"]["name"]]
        assert len(targets) == 1, f"patch {patch['path']} matches {len(targets)} resources"
        docs[targets[0]] = strategic_merge(docs[targets[0]], p)
    for label in k.get("labels", []):
        for d in docs:
            d["metadata"].setdefault("labels", {}).update(label["pairs"])
    if "namespace" in k:
        for d in docs:
            d["metadata"]["namespace"] = k["namespace"]
    for image in k.get("images", []):
        for d in docs:
            for c in pod_containers(d):
                name, _, tag = c["image"].partition(":")
                if name == image["name"]:
                    c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    return docs


def pod_containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("initContainers", []) + spec.get("containers", [])


def flag(args: list[str], name: str):
    """The value of --name=value in a container's args (None when absent)."""
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) <= 1, f"--{name} given {len(values)} times"
    return values[0] if values else None


def seconds(duration: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(ms|s|m)", duration)
    assert m, f"bad duration {duration!r}"
    return float(m.group(1)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(2)]


def renderings() -> list[tuple[str, list[dict]]]:
    out = [(f"{name} (built-in)", render(os.path.join(K8S, name))) for name in KUSTOMIZATIONS]
    kubectl = shutil.which("kubectl")
    if kubectl:  # the real kustomize, when present; CI may have none
        for name in KUSTOMIZATIONS:
            result = subprocess.run([kubectl, "kustomize", os.path.join(K8S, name)], capture_output=True,
                                    text=True, timeout=60)
            if result.returncode == 0:
                out.append((f"{name} (kubectl kustomize)", [d for d in yaml.safe_load_all(result.stdout) if d]))
            elif "unknown command" not in result.stderr:
                raise AssertionError(f"kubectl kustomize {name} failed:\n{result.stderr}")
    return out


class ManifestsTest(unittest.TestCase):
    def check(self, docs: list[dict]) -> None:
        by_kind = {}
        for d in docs:
            by_kind.setdefault(d["kind"], []).append(d)
        self.assertEqual(len(by_kind.get("Deployment", [])), 1)
        deployment = by_kind["Deployment"][0]
        pod = deployment["spec"]["template"]
        spec = pod["spec"]
        labels = pod["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        self.assertTrue(selector.items() <= labels.items(), "the selector must match the pod labels")

        # Restricted pod security.
        self.assertIs(spec["securityContext"]["runAsNonRoot"], True)
        self.assertNotEqual(spec["securityContext"].get("runAsUser", 0), 0)
        self.assertEqual(spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault")
        self.assertIs(spec.get("automountServiceAccountToken"), False)
        for c in pod_containers(deployment):
            sc = c.get("securityContext", {})
            with self.subTest(container=c["name"]):
                self.assertIs(sc.get("allowPrivilegeEscalation"), False)
                self.assertIs(sc.get("readOnlyRootFilesystem"), True)
                self.assertIn("ALL", sc.get("capabilities", {}).get("drop", []))
                self.assertFalse(sc.get("capabilities", {}).get("add"))
                self.assertNotEqual(sc.get("privileged"), True)
                self.assertIn("memory", c.get("resources", {}).get("limits", {}), "every container has a memory limit")

        server = next(c for c in spec["containers"] if c["name"] == "edlae-server")
        args = server["args"]
        ports = {p["name"]: p["containerPort"] for p in server["ports"]}
        self.assertEqual(int(flag(args, "port")), ports["grpc"])
        self.assertEqual(int(flag(args, "metrics_address").rsplit(":", 1)[1]), ports["metrics"])
        self.assertEqual(ports["metrics"], 9464)
        annotations = pod["metadata"]["annotations"]
        self.assertEqual(annotations["prometheus.io/scrape"], "true")
        self.assertEqual(int(annotations["prometheus.io/port"]), ports["metrics"])
        self.assertEqual(annotations["prometheus.io/path"], "/metrics")

        # Native gRPC probes on the health service.
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            self.assertIn(probe, server)
            self.assertEqual(server[probe]["grpc"]["port"], ports["grpc"], probe)
        self.assertEqual(server["readinessProbe"]["grpc"].get("service"), "edlae.v1.Recommender")
        self.assertIn(server["livenessProbe"]["grpc"].get("service", ""), ("", "edlae.v1.Recommender"))

        # Graceful termination: the pod may live through the preStop sleep and the server's whole drain.
        pre_stop = server["lifecycle"]["preStop"]["exec"]["command"]
        self.assertEqual(pre_stop[0], "/bin/sleep")
        budget = float(pre_stop[1]) + seconds(flag(args, "shutdown_grace"))
        self.assertGreaterEqual(spec["terminationGracePeriodSeconds"], budget + 5)
        self.assertEqual(deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)

        # The model volume: versioned folders filled by an init container, kept in sync by a sidecar.
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["name"]: m for m in server["volumeMounts"]}
        model_dir = flag(args, "model_dir")
        self.assertIsNotNone(model_dir, "the server serves a versioned --model_dir")
        models = next(name for name, m in mounts.items() if m["mountPath"] == model_dir)
        self.assertIs(mounts[models].get("readOnly"), True)
        self.assertIn("emptyDir", volumes[models])
        configmaps = {d["metadata"]["name"]: d for d in by_kind["ConfigMap"]}
        fillers = [c for c in pod_containers(deployment) if c["name"] != "edlae-server"]
        init = spec.get("initContainers", [])
        self.assertTrue(init, "an init container fills the model volume before the server starts")
        for c in fillers:
            writes = [m for m in c["volumeMounts"] if m["name"] == models and not m.get("readOnly")]
            self.assertTrue(writes, f"{c['name']} does not write the model volume")
            script_mount = next(m for m in c["volumeMounts"] if c["command"][1].startswith(m["mountPath"] + "/"))
            source = volumes[script_mount["name"]]["configMap"]["name"]
            self.assertIn("model-sync.sh", configmaps[source]["data"])
        self.assertEqual(init[0]["command"][-1], "--once")
        self.assertTrue(any(c["name"] != "edlae-server" for c in spec["containers"]), "a sync sidecar")

        # Resources from the model size.
        items = int(deployment["metadata"]["annotations"]["edlae/model-items"])
        model = dense_model_bytes(items)
        requests, limits = server["resources"]["requests"], server["resources"]["limits"]
        self.assertGreaterEqual(parse_quantity(requests["memory"]), model + PROCESS_OVERHEAD)
        self.assertGreaterEqual(parse_quantity(limits["memory"]), 2 * model + PROCESS_OVERHEAD,
                                "a hot reload maps two versions at once")
        self.assertGreater(parse_quantity(requests["cpu"]), 0)
        keep = int(next(e["value"] for e in init[0]["env"] if e["name"] == "KEEP"))
        self.assertGreaterEqual(parse_quantity(volumes[models]["emptyDir"]["sizeLimit"]), (keep + 1) * model)

        # Services: the gRPC port, and a headless one for client-side balancing.
        services = by_kind["Service"]
        for svc in services:
            self.assertTrue(svc["spec"]["selector"].items() <= labels.items(), svc["metadata"]["name"])
            grpc_port = next(p for p in svc["spec"]["ports"] if p["name"] == "grpc")
            self.assertIn(grpc_port["targetPort"], ("grpc", ports["grpc"]))
            self.assertEqual(grpc_port.get("appProtocol"), "grpc")
        self.assertTrue(any(s["spec"].get("clusterIP") == "None" for s in services), "a headless Service")

        # Autoscaling and disruptions.
        (hpa,) = by_kind["HorizontalPodAutoscaler"]
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"], deployment["metadata"]["name"])
        self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)
        self.assertGreaterEqual(hpa["spec"]["maxReplicas"], hpa["spec"]["minReplicas"])
        self.assertEqual(deployment["spec"]["replicas"], hpa["spec"]["minReplicas"])
        self.assertTrue(any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"]))
        (pdb,) = by_kind["PodDisruptionBudget"]
        self.assertEqual(pdb["apiVersion"], "policy/v1")
        self.assertTrue(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items())
        if "maxUnavailable" in pdb["spec"]:
            self.assertLess(pdb["spec"]["maxUnavailable"], hpa["spec"]["minReplicas"])
        else:
            self.assertLess(pdb["spec"]["minAvailable"], hpa["spec"]["minReplicas"])

        # Everything that references the model store claim finds it, or the overlay provides one.
        claims = {d["metadata"]["name"] for d in by_kind.get("PersistentVolumeClaim", [])}
        for v in spec["volumes"]:
            if "persistentVolumeClaim" in v:
                self.assertIn(v["persistentVolumeClaim"]["claimName"], claims)

    def test_kustomizations(self):
        for name, docs in renderings():
            with self.subTest(kustomization=name):
                print("checked", name, sorted(d["kind"] for d in docs))
                self.check(docs)

    def test_overlay_changes_size_and_image(self):
        base = {d["kind"]: d for d in render(os.path.join(K8S, "base"))}
        small = {d["kind"]: d for d in render(os.path.join(K8S, "overlays", "small"))}
        self.assertLess(dense_model_bytes(int(small["Deployment"]["metadata"]["annotations"]["edlae/model-items"])),
                        dense_model_bytes(int(base["Deployment"]["metadata"]["annotations"]["edlae/model-items"])))
        self.assertTrue(all(c["image"].startswith("registry.example.com/edlae:")
                            for c in pod_containers(small["Deployment"])))
        self.assertEqual(small["Deployment"]["metadata"]["namespace"], "edlae")


class ModelSyncTest(unittest.TestCase):
    """deploy/k8s/base/model-sync.sh with /bin/sh, as the init container and the sidecar run it."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.src = os.path.join(self.tmp.name, "store")
        self.dst = os.path.join(self.tmp.name, "models")
        os.makedirs(self.src)
        os.makedirs(self.dst)

    def publish(self, version, content: bytes = None) -> None:
        os.makedirs(os.path.join(self.src, str(version)), exist_ok=True)
        with open(os.path.join(self.src, str(version), "model.edlae"), "wb") as f:
            f.write(content if content is not None else f"model {version}".encode() * 1000)

    def sync(self, keep: int = 2) -> subprocess.CompletedProcess:
        env = dict(os.environ, SRC=self.src, DST=self.dst, KEEP=str(keep))
        return subprocess.run(["/bin/sh", os.path.join(K8S, "base", "model-sync.sh"), "--once"], env=env,
                              capture_output=True, text=True, timeout=60)

    def listing(self) -> list[str]:
        return sorted(os.listdir(self.dst))

    def test_empty_store_fails_and_leaves_models(self):
        result = self.sync()
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no complete version", result.stderr)
        self.assertEqual(self.listing(), [])

    def test_mirrors_the_newest_complete_versions(self):
        for v in (1, 2, 3, 10):
            self.publish(v)
        os.makedirs(os.path.join(self.src, "11"))  # being written: no model.edlae yet
        os.makedirs(os.path.join(self.src, ".tmp-12"))
        self.publish("latest")  # not a version
        os.makedirs(os.path.join(self.dst, ".incoming-9"))  # left by an interrupted copy
        result = self.sync(keep=2)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.listing(), ["10", "3"])  # numerically newest, not "9" < "10" as strings
        for v in ("3", "10"):
            with open(os.path.join(self.src, v, "model.edlae"), "rb") as a, \
                    open(os.path.join(self.dst, v, "model.edlae"), "rb") as b:
                self.assertEqual(a.read(), b.read())

    def test_rollout_and_rollback(self):
        self.publish(1)
        self.publish(2)
        self.assertEqual(self.sync().returncode, 0)
        self.assertEqual(self.listing(), ["1", "2"])
        self.publish(3)  # rollout: a new, higher version
        self.assertEqual(self.sync().returncode, 0)
        self.assertEqual(self.listing(), ["2", "3"])
        shutil.rmtree(os.path.join(self.src, "3"))  # rollback: remove the bad version from the store
        result = self.sync()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.listing(), ["1", "2"])
        self.assertIn("version 3 removed", result.stdout)
        shutil.rmtree(os.path.join(self.src, "1"))
        shutil.rmtree(os.path.join(self.src, "2"))  # the store fails or empties: keep what is served
        self.assertNotEqual(self.sync().returncode, 0)
        self.assertEqual(self.listing(), ["1", "2"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
