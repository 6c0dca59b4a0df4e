// An exported artifact in the page: manifest.json (schema trm-edge-artifact/1) and every file it
// lists, each checked against its sha256 with WebCrypto before any runtime sees it, like the apps
// (android_demo Manifest.load) and trm_edge.export.common.verify_files.

export const FORMAT = "trm-edge-artifact/1";

export class ArtifactError extends Error {}

async function fetchOk(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new ArtifactError(`cannot fetch ${url}: HTTP ${r.status}`);
  return r;
}

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// -> {manifest, files: {relpath: Uint8Array}}; throws ArtifactError on a partial or tampered artifact
export async function loadArtifact(baseUrl) {
  const base = baseUrl.endsWith("/") ? baseUrl : baseUrl + "/";
  let manifest;
  try {
    manifest = await (await fetchOk(base + "manifest.json")).json();
  } catch (e) {
    throw e instanceof ArtifactError ? e : new ArtifactError(`${base}manifest.json is not valid JSON: ${e.message}`);
  }
  if (manifest.format !== FORMAT) {
    throw new ArtifactError(`unsupported manifest format '${manifest.format}' (expected ${FORMAT})`);
  }
  const listed = Object.entries(manifest.files || {});
  if (!listed.length) throw new ArtifactError(`${base}manifest.json lists no files`);
  const files = {};
  for (const [rel, meta] of listed) {
    if (rel.split("/").includes("..")) throw new ArtifactError(`artifact ${base} lists a file outside itself: ${rel}`);
    let bytes;
    try {
      bytes = new Uint8Array(await (await fetchOk(base + rel)).arrayBuffer());
    } catch (e) {
      throw new ArtifactError(`artifact ${base} is incomplete: ${rel} is missing`);
    }
    if (bytes.length !== meta.bytes || (await sha256Hex(bytes)) !== meta.sha256) {
      throw new ArtifactError(`artifact ${base} is tampered or corrupt: sha256 of ${rel} does not match the manifest`);
    }
    files[rel] = bytes;
  }
  return { manifest, files, url: base };
}

export function sizeBytes(manifest) {
  return Object.values(manifest.files).reduce((a, m) => a + m.bytes, 0);
}
