//! `#[derive(Settings)]`: describes a serde settings struct to `marquee-settings`, which builds the flags,
//! `MARQUEE_*` variables, config-file section and example from that description. See the `marquee-settings`
//! crate for the attributes.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{parse_macro_input, Data, DeriveInput, Expr, ExprLit, Fields, Lit, Meta, Token, Type};

#[proc_macro_derive(Settings, attributes(settings, setting))]
pub fn derive_settings(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(input, "Settings can only be derived for a struct"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(input, "Settings needs a struct with named fields"));
    };
    let mut section = quote!("");
    let mut env_prefix = quote!("");
    let mut group_heading = quote!(None);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("settings")) {
        for meta in attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)? {
            let Meta::NameValue(nv) = &meta else { return Err(syn::Error::new_spanned(meta, "expected name = value")) };
            let value = &nv.value;
            match nv.path.get_ident().map(ToString::to_string).as_deref() {
                Some("section") => section = quote!(#value),
                Some("env_prefix") => env_prefix = quote!(#value),
                Some("heading") => group_heading = quote!(Some(#value)),
                _ => return Err(syn::Error::new_spanned(&nv.path, "unknown settings attribute")),
            }
        }
    }
    let mut steps = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named field");
        let mut key = ident.to_string();
        let mut serde_skip = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    key = lit.value();
                } else if meta.path.is_ident("skip") {
                    serde_skip = true;
                } else if meta.input.peek(Token![=]) {
                    let _: Expr = meta.value()?.parse()?;
                }
                Ok(())
            })?;
        }
        let mut attrs = FieldAttrs::default();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("setting")) {
            for meta in attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)? {
                attrs.read(&meta)?;
            }
        }
        if attrs.skip || serde_skip {
            if attrs.skip != serde_skip {
                return Err(syn::Error::new_spanned(
                    field,
                    "skip a field both with #[serde(skip)] and #[setting(skip)]",
                ));
            }
            continue;
        }
        let ty = &field.ty;
        if attrs.flatten {
            steps.push(quote! { fields.group::<#ty>(#key, #group_heading); });
            continue;
        }
        let (help, long_help) = help_texts(&field.attrs);
        if help.is_empty() {
            return Err(syn::Error::new_spanned(field, "every setting needs a doc comment: it is its --help text"));
        }
        let long_help = match long_help {
            Some(text) => quote!(Some(#text)),
            None => quote!(None),
        };
        let kind = match type_name(ty).as_deref() {
            Some("bool") => quote!(::marquee_settings::Kind::Switch),
            Some("Vec") => quote!(::marquee_settings::Kind::List),
            _ => quote!(::marquee_settings::Kind::Value),
        };
        let relative = if attrs.location {
            quote!(::marquee_settings::Relative::Location)
        } else if is_path(ty) {
            quote!(::marquee_settings::Relative::Path)
        } else {
            quote!(::marquee_settings::Relative::No)
        };
        let flag = opt(&attrs.flag);
        let env = match (&attrs.env, attrs.no_env) {
            (Some(_), true) => return Err(syn::Error::new_spanned(field, "env and no_env contradict each other")),
            (Some(env), false) => quote!(::marquee_settings::EnvName::Named(#env)),
            (None, true) => quote!(::marquee_settings::EnvName::None),
            (None, false) => quote!(::marquee_settings::EnvName::Prefixed),
        };
        let heading = match &attrs.heading {
            Some(h) => quote!(Some(#h)),
            None => quote!(#group_heading),
        };
        let value_name = opt(&attrs.value_name);
        let placeholder = opt(&attrs.placeholder);
        let hide_env_values = attrs.hide_env_values;
        steps.push(quote! {
            fields.push(::marquee_settings::Declared {
                key: #key,
                flag: #flag,
                env: #env,
                help: #help,
                long_help: #long_help,
                heading: #heading,
                value_name: #value_name,
                placeholder: #placeholder,
                kind: #kind,
                relative: #relative,
                hide_env_values: #hide_env_values,
            });
        });
    }
    Ok(quote! {
        impl ::marquee_settings::Settings for #name {
            const SECTION: &'static str = #section;
            const ENV_PREFIX: &'static str = #env_prefix;

            fn describe(fields: &mut ::marquee_settings::Fields) {
                #(#steps)*
            }
        }
    })
}

#[derive(Default)]
struct FieldAttrs {
    flag: Option<Expr>,
    env: Option<Expr>,
    no_env: bool,
    heading: Option<Expr>,
    value_name: Option<Expr>,
    placeholder: Option<Expr>,
    flatten: bool,
    skip: bool,
    location: bool,
    hide_env_values: bool,
}

impl FieldAttrs {
    fn read(&mut self, meta: &Meta) -> syn::Result<()> {
        let name = meta.path().get_ident().map(ToString::to_string).unwrap_or_default();
        match meta {
            Meta::Path(_) => match name.as_str() {
                "no_env" => self.no_env = true,
                "flatten" => self.flatten = true,
                "skip" => self.skip = true,
                "location" => self.location = true,
                "hide_env_values" => self.hide_env_values = true,
                _ => return Err(syn::Error::new_spanned(meta, "unknown setting attribute")),
            },
            Meta::NameValue(nv) => {
                let slot = match name.as_str() {
                    "flag" => &mut self.flag,
                    "env" => &mut self.env,
                    "heading" => &mut self.heading,
                    "value_name" => &mut self.value_name,
                    "placeholder" => &mut self.placeholder,
                    _ => return Err(syn::Error::new_spanned(meta, "unknown setting attribute")),
                };
                *slot = Some(nv.value.clone());
            }
            Meta::List(_) => return Err(syn::Error::new_spanned(meta, "unknown setting attribute")),
        }
        Ok(())
    }
}

fn opt(value: &Option<Expr>) -> Tokens {
    match value {
        Some(v) => quote!(Some(#v)),
        None => quote!(None),
    }
}

/// The last segment of a type's path, looking through `Option<…>`: `bool`, `Vec`, `PathBuf`.
fn type_name(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    Some(last.ident.to_string())
}

/// `PathBuf` or `Option<PathBuf>`: a relative path in the config file is taken from the file's directory.
fn is_path(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    let Some(last) = path.path.segments.last() else { return false };
    if last.ident == "PathBuf" {
        return true;
    }
    if last.ident == "Option" {
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            if let Some(syn::GenericArgument::Type(inner)) = args.args.first() {
                return is_path(inner);
            }
        }
    }
    false
}

/// The short and long help from the doc comment, as clap's derive makes them: the first paragraph, lines
/// joined and its final period dropped; and, when there is more than one paragraph, the whole text with
/// paragraphs kept apart by a blank line.
fn help_texts(attrs: &[syn::Attribute]) -> (String, Option<String>) {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) = &nv.value {
                for line in s.value().split('\n') {
                    lines.push(line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned());
                }
            }
        }
    }
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line.trim().to_owned());
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    let Some(first) = paragraphs.first() else { return (String::new(), None) };
    let mut short = first.clone();
    if short.ends_with('.') && !short.ends_with("..") {
        short.pop();
    }
    let long = (paragraphs.len() > 1).then(|| paragraphs.join("\n\n"));
    (short, long)
}
