"""
    NATSBridge_jll

The natsbridge C library (`libnatsbridge.so.0`), shaped like a BinaryBuilder
JLL package:

- `libnatsbridge`: the library's soname, a `const` usable in
  `ccall((:nb_version, libnatsbridge), ...)` (JLLs made for Julia 1.5 do the
  same: a `ccall` library must be a constant there, and the resolved file is
  opened in `__init__`, so the soname finds it);
- `libnatsbridge_path`: the file that was opened; `libnatsbridge_handle`: its
  `dlopen` handle; `artifact_dir`: the artifact folder (or `""` with an
  override).

Where the library comes from, first match wins:

1. the environment variable `NATSBRIDGE_LIBRARY_PATH`: the library file, or a
   folder holding `lib/libnatsbridge.so.0` or `libnatsbridge.so.0` (a
   development override, e.g. `target/release`);
2. an `Overrides.toml` in `<depot>/artifacts/` of any `DEPOT_PATH` entry, as
   Pkg reads it: `<git-tree-sha1> = "/folder"` or, under `[<uuid of this package>]`,
   `natsbridge = "/folder"`;
3. the artifact named `natsbridge` in `Artifacts.toml` (made by
   `build_artifact.sh`): `<depot>/artifacts/<git-tree-sha1>/lib/libnatsbridge.so.0`
   in each `DEPOT_PATH` entry.

When none holds the library, loading fails with a
`NATSBridgeLibraryNotFound` error that lists every place it looked.

The lookup reads `Artifacts.toml` and `Overrides.toml` itself (only the few
keys above), so it runs the same on Julia 1.5, which has no `Artifacts` or
`TOML` standard library, and on 1.6+.
"""
module NATSBridge_jll

using Libdl

export libnatsbridge, libnatsbridge_path, libnatsbridge_handle

"The package's UUID (the `[uuid]` section of an `Overrides.toml`)."
const UUID_STRING = "a6e2ffc8-cab5-468b-91f1-1167d912d7e9"
"The artifact's name in `Artifacts.toml`."
const ARTIFACT_NAME = "natsbridge"
"The library's soname: what `ccall` is given."
const libnatsbridge = "libnatsbridge.so.0"
"Where the library sits inside the artifact."
const LIBRARY_IN_ARTIFACT = joinpath("lib", "libnatsbridge.so.0")
"The development override's environment variable."
const OVERRIDE_ENV = "NATSBRIDGE_LIBRARY_PATH"

libnatsbridge_path = ""
libnatsbridge_handle = C_NULL
artifact_dir = ""
"How the library was found: `:env`, `:overrides_toml` or `:artifact`."
found_by = :none

"""
    NATSBridgeLibraryNotFound(tried)

No candidate held the library; `tried` lists each place looked at and why it
did not do.
"""
struct NATSBridgeLibraryNotFound <: Exception
    tried::Vector{String}
end

function Base.showerror(io::IO, err::NATSBridgeLibraryNotFound)
    print(io, "NATSBridge_jll: libnatsbridge.so.0 not found. Looked at:")
    for place in err.tried
        print(io, "\n  - ", place)
    end
    print(io, "\nBuild the artifact with bindings-julia/NATSBridge_jll/build_artifact.sh, ",
          "or set $(OVERRIDE_ENV) to the library (e.g. target/release/libnatsbridge.so).")
end

"The text of a TOML basic string value `\"...\"` (escapes `\\\\` and `\\\"`)."
function toml_string(text::AbstractString)
    m = match(r"^\s*\"((?:[^\"\\]|\\.)*)\"", text)
    m === nothing && return nothing
    return replace(replace(m.captures[1], "\\\"" => "\""), "\\\\" => "\\")
end

"""
    artifact_tree_sha1(artifacts_toml) -> Union{String,Nothing}

The `git-tree-sha1` of the `natsbridge` artifact for x86_64 Linux in an
`Artifacts.toml` as `build_artifact.sh` writes it (or as Pkg writes a single
platform entry).
"""
function artifact_tree_sha1(path::AbstractString)
    isfile(path) || return nothing
    section = ""
    for raw in eachline(path)
        line = strip(raw)
        (isempty(line) || startswith(line, "#")) && continue
        if startswith(line, "[")
            section = strip(line, ['[', ']', ' '])
            continue
        end
        key, sep, value = partition(line, '=')
        sep || continue
        if section == ARTIFACT_NAME && strip(key) == "git-tree-sha1"
            hash = toml_string(value)
            hash !== nothing && occursin(r"^[0-9a-f]{40}$", hash) && return hash
        end
    end
    return nothing
end

function partition(line::AbstractString, char::Char)
    i = findfirst(isequal(char), line)
    i === nothing && return (line, false, "")
    return (line[1:prevind(line, i)], true, line[nextind(line, i):end])
end

"""
    override_folder(overrides_toml, tree_sha1) -> Union{String,Nothing}

The folder an `Overrides.toml` puts in place of the artifact: by its
git-tree-sha1 (top level), or `natsbridge` under this package's UUID.
"""
function override_folder(path::AbstractString, tree_sha1)
    isfile(path) || return nothing
    section = ""
    for raw in eachline(path)
        line = strip(raw)
        (isempty(line) || startswith(line, "#")) && continue
        if startswith(line, "[")
            section = strip(line, ['[', ']', ' '])
            continue
        end
        key, sep, value = partition(line, '=')
        sep || continue
        key = strip(strip(key), '"')
        if (section == "" && tree_sha1 !== nothing && key == tree_sha1) ||
           (section == UUID_STRING && key == ARTIFACT_NAME)
            folder = toml_string(value)
            folder !== nothing && return folder
        end
    end
    return nothing
end

"The library file in a folder given as an override (or the file itself)."
function library_in(path::AbstractString)
    isfile(path) && return path
    for candidate in (joinpath(path, LIBRARY_IN_ARTIFACT), joinpath(path, "libnatsbridge.so.0"),
                      joinpath(path, "libnatsbridge.so"))
        isfile(candidate) && return candidate
    end
    return nothing
end

"""
    locate() -> (path, how, artifact_dir, tried)

Runs the lookup described in the module's documentation without opening
anything; `path` is `nothing` when nothing was found.
"""
function locate(; env = ENV, depots = DEPOT_PATH,
                artifacts_toml = joinpath(dirname(@__DIR__), "Artifacts.toml"))
    tried = String[]
    override = get(env, OVERRIDE_ENV, "")
    if !isempty(override)
        lib = library_in(override)
        lib !== nothing && return (lib, :env, "", tried)
        push!(tried, "$(OVERRIDE_ENV)=$(override): no libnatsbridge.so.0 there")
    else
        push!(tried, "$(OVERRIDE_ENV): not set")
    end
    tree_sha1 = artifact_tree_sha1(artifacts_toml)
    for depot in depots
        overrides = joinpath(depot, "artifacts", "Overrides.toml")
        folder = override_folder(overrides, tree_sha1)
        if folder === nothing
            push!(tried, "$(overrides): $(isfile(overrides) ? "no entry for natsbridge" : "absent")")
            continue
        end
        lib = library_in(folder)
        lib !== nothing && return (lib, :overrides_toml, folder, tried)
        push!(tried, "$(overrides) points at $(folder): no libnatsbridge.so.0 there")
    end
    if tree_sha1 === nothing
        push!(tried, "$(artifacts_toml): $(isfile(artifacts_toml) ? "no natsbridge entry" : "absent")")
    else
        for depot in depots
            folder = joinpath(depot, "artifacts", tree_sha1)
            lib = joinpath(folder, LIBRARY_IN_ARTIFACT)
            isfile(lib) && return (lib, :artifact, folder, tried)
            push!(tried, "artifact $(tree_sha1) (from $(artifacts_toml)): $(lib) absent")
        end
    end
    return (nothing, :none, "", tried)
end

function __init__()
    path, how, folder, tried = locate()
    path === nothing && throw(NATSBridgeLibraryNotFound(tried))
    global libnatsbridge_path = abspath(path)
    global artifact_dir = folder
    global found_by = how
    # Opened by its full path first; then the soname in `ccall` finds this
    # very library (the loader matches an already loaded soname).
    global libnatsbridge_handle = dlopen(libnatsbridge_path, RTLD_LAZY | RTLD_GLOBAL)
end

end # module
