# Tables.
#
# Sending: a NamedTuple of column vectors, a Dict{String,<:AbstractVector}
# (columns in sorted key order), or any object with `propertynames` and
# column access by `getproperty` (a DataFrames.DataFrame works by that route:
# `propertynames(df)` are its column names and `df.name` its columns). Columns
# go to the core's table builder (`nb_table_builder_*`), which writes the
# Arrow IPC stream: integers (and Bool-free Integer columns) as int64, floats
# as float64, Bool as bool, strings as utf8; `missing` entries are nulls.
#
# Receiving: the core exports the table through the Arrow C stream interface
# (`nb_table_export_stream`); each column becomes a Julia vector, in a
# NamedTuple. A numeric column of a one-batch table without nulls is a view of
# the Arrow buffer (no copy) when the buffer is aligned; the Arrow array is
# then released only when every such vector is garbage. Columns with nulls
# are `Vector{Union{T,Missing}}`; bool and binary columns are copied; a
# string column is read in one pass: one `String` with the column's bytes and
# a `Vector{SubString{String}}` of its cells (no allocation per cell).

"`struct ArrowSchema` of the Arrow C data interface."
struct ArrowSchema
    format::Ptr{UInt8}
    name::Ptr{UInt8}
    metadata::Ptr{UInt8}
    flags::Int64
    n_children::Int64
    children::Ptr{Ptr{ArrowSchema}}
    dictionary::Ptr{ArrowSchema}
    release::Ptr{Cvoid}
    private_data::Ptr{Cvoid}
end

"`struct ArrowArray` of the Arrow C data interface."
struct ArrowArray
    length::Int64
    null_count::Int64
    offset::Int64
    n_buffers::Int64
    n_children::Int64
    buffers::Ptr{Ptr{Cvoid}}
    children::Ptr{Ptr{ArrowArray}}
    dictionary::Ptr{ArrowArray}
    release::Ptr{Cvoid}
    private_data::Ptr{Cvoid}
end

"`struct ArrowArrayStream` of the Arrow C stream interface."
struct ArrowArrayStream
    get_schema::Ptr{Cvoid}
    get_next::Ptr{Cvoid}
    get_last_error::Ptr{Cvoid}
    release::Ptr{Cvoid}
    private_data::Ptr{Cvoid}
end

"""
A C-allocated Arrow struct (schema or array) at a fixed address, released
through its own `release` callback and freed when this object is garbage.
Column vectors that view its buffers keep it alive.
"""
mutable struct ArrowBox{T}
    ptr::Ptr{T}
    function ArrowBox{T}() where {T}
        ptr = Ptr{T}(Libc.calloc(1, sizeof(T)))
        ptr == C_NULL && throw(OutOfMemoryError())
        box = new{T}(ptr)
        finalizer(release!, box)
        return box
    end
end

function release!(box::ArrowBox)
    if box.ptr != C_NULL
        release = unsafe_load(box.ptr).release
        release != C_NULL && ccall(release, Cvoid, (Ptr{Cvoid},), box.ptr)
        Libc.free(box.ptr)
        box.ptr = C_NULL
    end
    return nothing
end

Base.getindex(box::ArrowBox) = unsafe_load(box.ptr)

# ------------------------------------------------------------------ sending

"The columns of a table value as (name, vector) pairs, in order."
function table_columns(table)
    if table isa AbstractDict
        names = sort!([string(k) for k in keys(table)])
        return [(name, table[haskey(table, name) ? name : Symbol(name)]) for name in names]
    elseif table isa NamedTuple
        return [(string(k), v) for (k, v) in pairs(table)]
    else
        names = try
            propertynames(table)
        catch
            ()
        end
        isempty(names) && throw(border_error(:INVALID_ARGUMENT,
            "a table must be a NamedTuple of columns, a Dict of columns, or have propertynames " *
            "and column access (a DataFrame); got $(typeof(table))"))
        return [(string(n), getproperty(table, n)) for n in names]
    end
end

"Builds an `nb_table` from a table value; the caller frees it."
function build_table(table; dataname = nothing)
    columns = table_columns(table)
    out = Ref{Ptr{Cvoid}}(C_NULL)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:nb_table_builder_new, libnatsbridge), Int32, (Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}),
                out, err), err)
    builder = out[]
    try
        for (name, column) in columns
            column isa AbstractVector || throw(border_error(:INVALID_ARGUMENT,
                "table column $(repr(name)) is a $(typeof(column)), not a vector";
                dataname = dataname))
            add_column!(builder, name, column, dataname)
        end
        table_out = Ref{Ptr{Cvoid}}(C_NULL)
        check(ccall((:nb_table_builder_finish, libnatsbridge), Int32,
                    (Ptr{Cvoid}, Ptr{Ptr{Cvoid}}, Ptr{Ptr{Cvoid}}), builder, table_out, err), err)
        return table_out[]
    finally
        ccall((:nb_table_builder_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), builder)
    end
end

"0 for a `missing` entry, else 1; `nothing` when the column has no missing."
function validity(column::AbstractVector)
    Missing <: eltype(column) || return nothing
    return UInt8[ismissing(x) ? 0x00 : 0x01 for x in column]
end

function add_column!(builder::Ptr{Cvoid}, name::String, column::AbstractVector, dataname)
    T = nonmissingtype(eltype(column))
    valid = validity(column)
    err = Ref{Ptr{Cvoid}}(C_NULL)
    n = length(column)
    validptr(v) = v === nothing ? Ptr{UInt8}(C_NULL) : pointer(v)
    if T === Bool
        values = Bool[ismissing(x) ? false : x for x in column]
        status = GC.@preserve values valid ccall((:nb_table_builder_add_bool, libnatsbridge), Int32,
            (Ptr{Cvoid}, Cstring, Ptr{Bool}, Ptr{UInt8}, Csize_t, Ptr{Ptr{Cvoid}}),
            builder, name, values, validptr(valid), n, err)
    elseif T <: Integer
        values = column isa Vector{Int64} ? column : Int64[ismissing(x) ? 0 : Int64(x) for x in column]
        status = GC.@preserve values valid ccall((:nb_table_builder_add_int64, libnatsbridge), Int32,
            (Ptr{Cvoid}, Cstring, Ptr{Int64}, Ptr{UInt8}, Csize_t, Ptr{Ptr{Cvoid}}),
            builder, name, values, validptr(valid), n, err)
    elseif T <: AbstractFloat
        values = column isa Vector{Float64} ? column : Float64[ismissing(x) ? 0.0 : Float64(x) for x in column]
        status = GC.@preserve values valid ccall((:nb_table_builder_add_float64, libnatsbridge), Int32,
            (Ptr{Cvoid}, Cstring, Ptr{Float64}, Ptr{UInt8}, Csize_t, Ptr{Ptr{Cvoid}}),
            builder, name, values, validptr(valid), n, err)
    elseif T <: Union{AbstractString,Symbol}
        # A Vector{String} is passed as it is (no copy of its strings).
        strings = column isa Vector{String} ? column :
                  Union{String,Nothing}[ismissing(x) ? nothing : String(string(x)) for x in column]
        ptrs = string_pointers(strings, name, dataname)
        status = GC.@preserve strings ptrs ccall((:nb_table_builder_add_utf8, libnatsbridge), Int32,
            (Ptr{Cvoid}, Cstring, Ptr{Ptr{UInt8}}, Csize_t, Ptr{Ptr{Cvoid}}),
            builder, name, ptrs, n, err)
    else
        throw(border_error(:SERIALIZATION,
            "table column $(repr(name)) has elements of type $(eltype(column)); " *
            "columns may hold integers, floats, Bool or strings (and missing)"; dataname = dataname))
    end
    check(status, err)
end

"The C string pointers of a string column (NULL for `nothing`); refuses NUL characters."
function string_pointers(strings::AbstractVector, name::String, dataname)
    ptrs = Vector{Ptr{UInt8}}(undef, length(strings))
    for (i, s) in enumerate(strings)
        if s === nothing
            ptrs[i] = C_NULL
            continue
        end
        ccall(:memchr, Ptr{Cvoid}, (Ptr{UInt8}, Cint, Csize_t), s, 0, sizeof(s)) == C_NULL ||
            throw(border_error(:INVALID_ARGUMENT,
                "table column $(repr(name)) holds a string with a NUL character"; dataname = dataname))
        ptrs[i] = pointer(s)
    end
    return ptrs
end

# ---------------------------------------------------------------- receiving

"The Julia element type of an Arrow primitive format string."
const PRIMITIVE_FORMATS = Dict{String,DataType}(
    "c" => Int8, "s" => Int16, "i" => Int32, "l" => Int64,
    "C" => UInt8, "S" => UInt16, "I" => UInt32, "L" => UInt64,
    "f" => Float32, "g" => Float64)

bit_set(bits::Ptr{UInt8}, i::Integer) = (unsafe_load(bits, (i >> 3) + 1) >> (i & 7)) & 0x01 == 0x01

"Whether row `i` (0-based, offset applied) is valid."
is_valid(bits::Ptr{UInt8}, i::Integer) = bits == C_NULL || bit_set(bits, i)

"""
    read_column(schema, array, owner, zero_copy) -> AbstractVector

One Arrow column as a Julia vector. `owner` keeps the array alive for a
zero-copy view.
"""
function read_column(schema::ArrowSchema, array::ArrowArray, owner, zero_copy::Bool, name)
    format = unsafe_string(schema.format)
    n = Int(array.length)
    off = Int(array.offset)
    buffer(i) = unsafe_load(array.buffers, i)
    bits = array.n_buffers > 0 ? Ptr{UInt8}(buffer(1)) : Ptr{UInt8}(C_NULL)
    has_nulls = array.null_count != 0 && bits != C_NULL
    if haskey(PRIMITIVE_FORMATS, format)
        T = PRIMITIVE_FORMATS[format]
        data = Ptr{T}(buffer(2)) + off * sizeof(T)
        if !has_nulls
            if zero_copy && UInt(data) % Base.datatype_alignment(T) == 0 && n > 0
                view = unsafe_wrap(Array, data, n; own = false)
                # The view keeps the Arrow array alive: the finalizer's
                # closure holds `owner` until the view is garbage.
                finalizer(_ -> (owner; nothing), view)
                return view
            end
            return copy(unsafe_wrap(Array, data, n; own = false))
        end
        out = Vector{Union{T,Missing}}(undef, n)
        for i in 1:n
            out[i] = is_valid(bits, off + i - 1) ? unsafe_load(data, i) : missing
        end
        return out
    elseif format == "b"
        data = Ptr{UInt8}(buffer(2))
        out = has_nulls ? Vector{Union{Bool,Missing}}(undef, n) : Vector{Bool}(undef, n)
        for i in 1:n
            out[i] = has_nulls && !is_valid(bits, off + i - 1) ? missing : bit_set(data, off + i - 1)
        end
        return out
    elseif format in ("u", "U")
        return read_strings(format == "u" ? Int32 : Int64, Ptr{UInt8}(buffer(2)),
                            Ptr{UInt8}(buffer(3)), bits, has_nulls, off, n)
    elseif format in ("z", "Z")
        O = format == "z" ? Int32 : Int64
        offsets = Ptr{O}(buffer(2))
        data = Ptr{UInt8}(buffer(3))
        S = Vector{UInt8}
        out = has_nulls ? Vector{Union{S,Missing}}(undef, n) : Vector{S}(undef, n)
        for i in 1:n
            if has_nulls && !is_valid(bits, off + i - 1)
                out[i] = missing
                continue
            end
            start = unsafe_load(offsets, off + i)
            stop = unsafe_load(offsets, off + i + 1)
            bytes = data + start
            out[i] = copy(unsafe_wrap(Array, bytes, stop - start; own = false))
        end
        return out
    elseif format == "n"
        return fill(missing, n)
    else
        throw(border_error(:INVALID_TABLE,
            "table column $(repr(name)) has Arrow type $(repr(format)), which this Julia front end " *
            "does not convert (it reads integers, floats, bool, utf8, binary and null)"))
    end
end

"""
    read_strings(O, offsets, data, bits, has_nulls, off, n) -> Vector{SubString{String}}

A utf8 column (offsets of type `O`) in one pass: its bytes are copied once
into one `String`, and each cell is a `SubString` of it (no allocation per
cell; the vector stores the SubStrings inline). Null cells are `missing`.
"""
function read_strings(::Type{O}, offsets_ptr::Ptr{UInt8}, data::Ptr{UInt8}, bits::Ptr{UInt8},
                      has_nulls::Bool, off::Int, n::Int) where {O}
    offsets = Ptr{O}(offsets_ptr)
    out = has_nulls ? Vector{Union{SubString{String},Missing}}(undef, n) :
                      Vector{SubString{String}}(undef, n)
    n == 0 && return out
    base = Int(unsafe_load(offsets, off + 1))
    whole = unsafe_string(data + base, Int(unsafe_load(offsets, off + n + 1)) - base)
    # A function barrier: the loop is compiled for `out`'s concrete type.
    return fill_strings!(out, offsets, whole, bits, has_nulls, off, base)
end

function fill_strings!(out::AbstractVector, offsets::Ptr, whole::String, bits::Ptr{UInt8},
                       has_nulls::Bool, off::Int, base::Int)
    for i in 1:length(out)
        if has_nulls && !is_valid(bits, off + i - 1)
            out[i] = missing
            continue
        end
        start = Int(unsafe_load(offsets, off + i)) - base
        stop = Int(unsafe_load(offsets, off + i + 1)) - base
        # The core checked the column (UTF-8, offsets ascending and inside
        # the data): cell bounds are character boundaries, so the
        # SubString's own index checks are skipped (`@inbounds`); `thisind`
        # finds the start of the cell's last character.
        out[i] = start == stop ? SubString(whole, 1, 0) :
                 @inbounds SubString{String}(whole, start + 1, thisind(whole, stop))
    end
    return out
end

"An empty vector of the type a column of this format reads as."
function empty_column(format::String)
    haskey(PRIMITIVE_FORMATS, format) && return PRIMITIVE_FORMATS[format][]
    format == "b" && return Bool[]
    format in ("u", "U") && return SubString{String}[]
    format in ("z", "Z") && return Vector{UInt8}[]
    return Missing[]
end

function stream_error(stream::Ptr{ArrowArrayStream}, code)
    get_last_error = unsafe_load(stream).get_last_error
    detail = get_last_error == C_NULL ? nothing :
             cstring_or_nothing(ccall(get_last_error, Ptr{UInt8}, (Ptr{ArrowArrayStream},), stream))
    return border_error(:INVALID_TABLE, "reading the Arrow C stream failed (errno $(code))" *
                                        (detail === nothing ? "" : ": $(detail)"))
end

"""
    read_table(table_handle) -> NamedTuple

Reads an `nb_table` through the Arrow C stream interface into a NamedTuple of
column vectors (see the file's comment for copies and views).
"""
function read_table(table::Ptr{Cvoid})
    stream = ArrowBox{ArrowArrayStream}()
    err = Ref{Ptr{Cvoid}}(C_NULL)
    check(ccall((:nb_table_export_stream, libnatsbridge), Int32,
                (Ptr{Cvoid}, Ptr{ArrowArrayStream}, Ptr{Ptr{Cvoid}}), table, stream.ptr, err), err)
    try
        schema = ArrowBox{ArrowSchema}()
        code = ccall(stream[].get_schema, Cint, (Ptr{ArrowArrayStream}, Ptr{ArrowSchema}),
                     stream.ptr, schema.ptr)
        code == 0 || throw(stream_error(stream.ptr, code))
        s = schema[]
        children = [unsafe_load(unsafe_load(s.children, i)) for i in 1:s.n_children]
        names = [unsafe_string(c.name) for c in children]
        formats = [unsafe_string(c.format) for c in children]
        batches = ArrowBox{ArrowArray}[]
        while true
            array = ArrowBox{ArrowArray}()
            code = ccall(stream[].get_next, Cint, (Ptr{ArrowArrayStream}, Ptr{ArrowArray}),
                         stream.ptr, array.ptr)
            code == 0 || throw(stream_error(stream.ptr, code))
            array[].release == C_NULL && break   # the end of the stream
            push!(batches, array)
        end
        columns = Vector{AbstractVector}(undef, length(children))
        for (j, child) in enumerate(children)
            if isempty(batches)
                columns[j] = empty_column(formats[j])
                continue
            end
            parts = map(batches) do batch
                b = batch[]
                read_column(child, unsafe_load(unsafe_load(b.children, j)), batch,
                            length(batches) == 1, names[j])
            end
            columns[j] = length(parts) == 1 ? parts[1] : reduce(vcat, parts)
        end
        release!(schema)
        return NamedTuple{Tuple(Symbol.(names))}(Tuple(columns))
    finally
        release!(stream)
    end
end
