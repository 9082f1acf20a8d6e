# Errors: one exception type carrying the core's kind, and one check helper
# that every call of a fallible C function goes through.

"""
    NATSBridgeError(kind, code, message; dataname = nothing, cause = nothing)

A failed natsbridge call. `kind` is the core's error kind as a `Symbol`
(`:INTEGRITY`, `:TIMEOUT`, `:INVALID_ARGUMENT`, ..., the names of
`nb_status_name`), `code` its stable C number, `message` the core's message
with its causes, `dataname` the payload it concerns (if any), and `cause` the
Julia exception that caused it (an upload or download handler that threw),
or `nothing`.
"""
struct NATSBridgeError <: Exception
    kind::Symbol
    code::Int32
    message::String
    dataname::Union{String,Nothing}
    cause::Any
end

NATSBridgeError(kind::Symbol, code::Integer, message::AbstractString;
                dataname = nothing, cause = nothing) =
    NATSBridgeError(kind, Int32(code), String(message), dataname, cause)

function Base.showerror(io::IO, err::NATSBridgeError)
    print(io, "NATSBridgeError(", err.kind, "): ", err.message)
    err.dataname === nothing || print(io, " [payload ", repr(err.dataname), "]")
    if err.cause !== nothing
        print(io, "\nCaused by: ")
        showerror(io, err.cause)
    end
end

"The stable name of a status code as a Symbol (`:INTEGRITY`, ...)."
status_kind(status::Integer) =
    Symbol(unsafe_string(ccall((:nb_status_name, libnatsbridge), Cstring, (Int32,), status)))

"The code of a kind, for errors this package raises itself before a C call."
function kind_code(kind::Symbol)
    for code in Int32(1):Int32(64)
        status_kind(code) === kind && return code
    end
    return Int32(1000)
end

"An error of kind `kind` raised at the border (bad Julia input)."
border_error(kind::Symbol, message::AbstractString; dataname = nothing) =
    NATSBridgeError(kind, kind_code(kind), message; dataname = dataname)

"""
    take_error(status, errptr; cause = nothing) -> NATSBridgeError

Reads and frees the `nb_error` a failed call wrote (if any).
"""
function take_error(status::Integer, errptr::Ptr{Cvoid}; cause = nothing)
    if errptr == C_NULL
        return NATSBridgeError(status_kind(status), status, "natsbridge call failed"; cause = cause)
    end
    code = ccall((:nb_error_code, libnatsbridge), Int32, (Ptr{Cvoid},), errptr)
    message = unsafe_string(ccall((:nb_error_message, libnatsbridge), Cstring, (Ptr{Cvoid},), errptr))
    dataname = cstring_or_nothing(ccall((:nb_error_dataname, libnatsbridge), Ptr{UInt8},
                                        (Ptr{Cvoid},), errptr))
    ccall((:nb_error_free, libnatsbridge), Cvoid, (Ptr{Cvoid},), errptr)
    return NATSBridgeError(status_kind(code), code, message; dataname = dataname, cause = cause)
end

"""
    check(status, err::Ref{Ptr{Cvoid}}; cause = nothing)

The one check helper: throws the `NATSBridgeError` of a failed call (status
not `NB_OK`), freeing its `nb_error`.
"""
@inline function check(status::Integer, err::Ref{Ptr{Cvoid}}; cause = nothing)
    status == 0 && return nothing
    errptr = err[]
    err[] = C_NULL
    throw(take_error(status, errptr; cause = cause))
end
